#![deny(dead_code)]

#[microprofile::timed]
fn never_called() {}

#[microprofile::counted(outcome)]
fn never_called_either() -> Result<(), ()> {
    Ok(())
}

fn main() {}
