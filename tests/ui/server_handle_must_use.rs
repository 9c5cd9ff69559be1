#![deny(unused_must_use)]

// Dropping the handle stops the listener, so a call whose handle is thrown away serves nothing.
fn main() -> Result<(), microprofile::ServerError> {
    microprofile::Server::builder().start()?;
    Ok(())
}
