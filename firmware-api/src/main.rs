//! The `opendcre` binary: command-line entry point.

fn main() {
    println!("opendcre {}", env!("CARGO_PKG_VERSION"));
}
