//! Python: prefix argv with `ddtrace-run` (from the app's PATH); for uWSGI, which ddtrace-run
//! does not support, add ddtrace's documented `--import=ddtrace.bootstrap.sitecustomize` (with
//! `--enable-threads`) instead.

use std::ffi::OsString;

use super::{Context, Found, Injection, Tracer};

pub(super) fn probe(ctx: &Context<'_>) -> Found {
    if ctx.program == "ddtrace-run" {
        return Found::AlreadyThere("already started through ddtrace-run".into());
    }
    if ctx.program == "uwsgi" && ctx.argv_contains("ddtrace.bootstrap") {
        return Found::AlreadyThere("uWSGI already imports ddtrace's bootstrap".into());
    }
    match ctx.which("ddtrace-run") {
        Some(_) if ctx.program == "uwsgi" => Found::Tracer(Tracer::UwsgiImport),
        Some(path) => Found::Tracer(Tracer::DdtraceRun(path)),
        None => {
            Found::Missing("Python tracer not found: no ddtrace-run on PATH (pip install ddtrace)".into())
        }
    }
}

pub(super) fn apply(tracer: &Tracer, argv: &[OsString]) -> Injection {
    let mut out = Vec::with_capacity(argv.len() + 2);
    match tracer {
        Tracer::DdtraceRun(path) => {
            out.push(path.clone().into_os_string());
            out.extend_from_slice(argv);
        }
        _ => {
            out.extend_from_slice(argv);
            out.push("--import=ddtrace.bootstrap.sitecustomize".into());
            if !argv.iter().any(|a| a == "--enable-threads") {
                out.push("--enable-threads".into());
            }
        }
    }
    Injection { argv: out, ..Injection::default() }
}
