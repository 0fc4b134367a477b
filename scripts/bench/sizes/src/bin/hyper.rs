#[path = "../uses.rs"]
mod uses;

fn main() {
    uses::hello();
    uses::tokio();
    uses::hyper();
}
