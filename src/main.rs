//! The `ddboot` binary: it builds the argument list and hands it to [`ddboot::run`].
//!
//! `main` is the C entry point itself (`#![no_main]`): the Rust runtime's start-up is skipped,
//! so std does not set SIGPIPE to "ignore", install SIGSEGV/SIGBUS handlers on an alternate
//! stack, read `/proc/self/maps` for a stack guard, or poke at fds 0–2. ddboot's own `signals`
//! module sets the dispositions it needs for its run and restores the inherited ones before the
//! exec, so the app inherits every disposition exactly as ddboot did, and ddboot's start costs a
//! dozen fewer system calls. Without the runtime's start-up std never learns argv on musl (only
//! glibc passes it to std's `.init_array` hook), so `main` copies `argv` itself: glibc and
//! musl builds see the same arguments.

// Under `cargo test` the test harness brings its own `main`.
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(argc: std::ffi::c_int, argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    use std::os::unix::ffi::OsStringExt;
    let count = usize::try_from(argc).unwrap_or(0);
    let mut args = Vec::with_capacity(count);
    for i in 0..count {
        // SAFETY: the C runtime passes `argc` valid pointers to NUL-terminated strings in `argv`
        // (argv[argc] is NULL); a NULL entry is skipped rather than read.
        let arg = unsafe { *argv.add(i) };
        if arg.is_null() {
            break;
        }
        // SAFETY: `arg` is a non-NULL, NUL-terminated string that lives for the whole process.
        let bytes = unsafe { std::ffi::CStr::from_ptr(arg) }.to_bytes().to_vec();
        args.push(std::ffi::OsString::from_vec(bytes));
    }
    ddboot::run(args)
}
