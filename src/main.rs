//! The `ddboot` binary: everything happens in [`ddboot::run`].

fn main() {
    std::process::exit(ddboot::run());
}
