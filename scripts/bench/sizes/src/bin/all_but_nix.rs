#[path = "../uses.rs"]
#[macro_use]
mod uses;

main_with!(clap, tokio, hyper, serde_json, which);
