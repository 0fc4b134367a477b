#[path = "../uses.rs"]
#[macro_use]
mod uses;

main_with!(clap, tokio, serde_json, which, nix);
