//! The `ddboot` binary: everything happens in [`ddboot::run`].
//!
//! `main` is the C entry point itself (`#![no_main]`): the Rust runtime's start-up is skipped,
//! so ddboot does not set SIGPIPE to "ignore", install SIGSEGV/SIGBUS handlers on an alternate
//! stack, read `/proc/self/maps` for a stack guard, or poke at fds 0–2. The app therefore
//! inherits every signal disposition exactly as ddboot did, and ddboot's start costs a dozen
//! fewer system calls. `std::env::args_os` still works: glibc and musl hand argv to std's
//! `.init_array` hook.

// Under `cargo test` the test harness brings its own `main`.
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: std::ffi::c_int, _argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    ddboot::run()
}
