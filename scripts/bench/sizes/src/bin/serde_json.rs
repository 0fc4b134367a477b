#[path = "../uses.rs"]
#[macro_use]
mod uses;

main_with!(serde_json);
