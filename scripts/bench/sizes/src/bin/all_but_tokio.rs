#[path = "../uses.rs"]
#[macro_use]
mod uses;

main_with!(clap, hyper, serde_json, which, nix);
