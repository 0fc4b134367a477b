#[path = "../uses.rs"]
mod uses;

fn main() {
    uses::hello();
    uses::serde_json();
}
