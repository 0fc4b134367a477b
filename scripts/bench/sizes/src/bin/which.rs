#[path = "../uses.rs"]
#[macro_use]
mod uses;

main_with!(which);
