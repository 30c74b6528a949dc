//! Placeholder; replace freely.
fn main() {}
