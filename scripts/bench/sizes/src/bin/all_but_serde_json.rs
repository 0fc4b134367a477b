#[path = "../uses.rs"]
mod uses;

fn main() {
    uses::hello();
    uses::clap();
    uses::tokio();
    uses::hyper();
    uses::which();
    uses::nix();
}
