#[microprofile::timed(name = "typed")]
fn typed() -> u32 {
    let text: &str = "x";
    text
}

#[microprofile::counted(name = "typed_async", outcome)]
async fn typed_async() -> Result<u32, String> {
    let n: u32 = "no";
    Ok(n)
}

fn main() {
    typed();
    let _ = typed_async();
}
