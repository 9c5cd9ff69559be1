#[microprofile::timed(buckets = [0.1, 1.0], quantiles = [0.5])]
fn both() {}

#[microprofile::timed(outcome)]
fn no_result() -> u32 {
    1
}

#[microprofile::concurrent_gauge(outcome)]
fn in_flight() -> Result<(), ()> {
    Ok(())
}

#[microprofile::timed(unit = "milliseconds")]
fn millis() {}

#[microprofile::counted(outcome, tags(outcome = "x"))]
fn clash() -> Result<(), ()> {
    Ok(())
}

fn main() {
    both();
    no_result();
    let _ = in_flight();
    millis();
    let _ = clash();
}
