#[path = "../uses.rs"]
mod uses;

fn main() {
    uses::hello();
    uses::clap();
    uses::serde_json();
    uses::which();
    uses::nix();
}
