#[path = "../uses.rs"]
mod uses;

fn main() {
    uses::hello();
    uses::tokio();
    uses::hyper();
    uses::serde_json();
    uses::which();
    uses::nix();
}
