//! The README is the user's whole manual: every flag and every environment variable that
//! `ddboot --help` lists must be documented in README.md.

mod common;

use std::collections::BTreeSet;

/// `ddboot --help` of the binary under test (`DDBOOT_BIN`, under `DDBOOT_RUNNER`), through the
/// harness.
fn help() -> String {
    let f = common::Ddboot::new().arg("--help").run();
    f.assert_code(0);
    String::from_utf8(f.stdout).expect("utf-8 help")
}

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md")
}

/// Tokens like `--flag`, `-q` and `UPPER_CASE_VARIABLE` in the help text.
fn tokens(text: &str, keep: impl Fn(&str) -> bool) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .filter(|t| keep(t))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_flag_in_help_is_in_the_readme() {
    let flags = tokens(&help(), |t| t.starts_with("--") && t.len() > 2);
    assert!(flags.len() >= 15, "help lists too few flags: {flags:?}");
    let readme = readme();
    let missing: Vec<_> = flags
        .iter()
        .filter(|f| !readme.contains(&format!("`{f}")) && !readme.contains(&format!("{f} ")))
        .collect();
    assert!(missing.is_empty(), "flags in --help but not in README.md: {missing:?}");
}

#[test]
fn every_variable_in_help_is_in_the_readme() {
    let vars = tokens(&help(), |t| {
        t.len() > 4
            && t.contains('_')
            && t.chars().all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
    });
    assert!(vars.contains("DDBOOT_TIMEOUT") && vars.contains("AWS_EC2_METADATA_DISABLED"), "{vars:?}");
    let readme = readme();
    let missing: Vec<_> = vars.iter().filter(|v| !readme.contains(&format!("`{v}"))).collect();
    assert!(missing.is_empty(), "variables in --help but not in README.md: {missing:?}");
}
