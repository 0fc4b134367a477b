//! .NET: the CLR profiler variables, when the native profiler for this CPU exists in the tracer
//! home (`DD_DOTNET_TRACER_HOME`, else `/opt/datadog`, `/datadog-lib`, `/dd_tracer/dotnet`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{Context, Found, Injection, Tracer};
use crate::environ::{Change, Origin};

/// The CLSID of Datadog's CLR profiler.
pub(crate) const PROFILER_CLSID: &str = "{846F5F1C-F9AE-4B07-969E-05C26BC060D8}";
const PROFILER_SO: &str = "Datadog.Trace.ClrProfiler.Native.so";
const HOMES: [&str; 3] = ["/opt/datadog", "/datadog-lib", "/dd_tracer/dotnet"];

pub(super) fn probe(ctx: &Context<'_>) -> Found {
    if ctx.env.non_empty("CORECLR_PROFILER").is_some() {
        return Found::AlreadyThere("CORECLR_PROFILER is already set".into());
    }
    let homes: Vec<PathBuf> = match ctx.env.non_empty("DD_DOTNET_TRACER_HOME") {
        Some(home) => vec![ctx.cwd.join(home)],
        None => HOMES.iter().map(PathBuf::from).collect(),
    };
    homes
        .iter()
        .find_map(|home| profiler_in(home).map(|profiler| (home.clone(), profiler)))
        .map(|(home, profiler)| Found::Tracer(Tracer::Dotnet { home, profiler }))
        .unwrap_or_else(|| {
            let shown: Vec<String> = homes.iter().map(|h| h.display().to_string()).collect();
            Found::Missing(format!(
                ".NET tracer not found: no {PROFILER_SO} for this CPU in {}",
                shown.join(", ")
            ))
        })
}

/// The architecture directories Datadog's packages ship, best match first.
fn arch_dirs() -> &'static [&'static str] {
    // A glibc loader means glibc, even when a musl loader is installed beside it (Debian's musl
    // package); only a system without one is musl (Alpine).
    let glibc = ["/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1", "/lib64/ld-linux-aarch64.so.1"]
        .iter()
        .any(|p| Path::new(p).exists());
    let musl = !glibc
        && (Path::new("/lib/ld-musl-x86_64.so.1").exists()
            || Path::new("/lib/ld-musl-aarch64.so.1").exists());
    match (std::env::consts::ARCH, musl) {
        ("x86_64", false) => &["linux-x64", ""],
        ("x86_64", true) => &["linux-musl-x64", ""],
        ("aarch64", false) => &["linux-arm64", ""],
        ("aarch64", true) => &["linux-musl-arm64", ""],
        _ => &[""],
    }
}

fn profiler_in(home: &Path) -> Option<PathBuf> {
    arch_dirs().iter().map(|d| home.join(d).join(PROFILER_SO)).find(|p| p.is_file())
}

pub(super) fn apply(home: &Path, profiler: &Path, argv: &[OsString]) -> Injection {
    let set = |name: &str, value: String| Change::set(name, value, Origin::Inject);
    Injection {
        argv: argv.to_vec(),
        changes: vec![
            set("CORECLR_ENABLE_PROFILING", "1".into()),
            set("CORECLR_PROFILER", PROFILER_CLSID.into()),
            set("CORECLR_PROFILER_PATH", profiler.display().to_string()),
            set("DD_DOTNET_TRACER_HOME", home.display().to_string()),
        ],
    }
}
