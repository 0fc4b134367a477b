//! Python: load ddtrace into the interpreter the user named, never another environment's.
//!
//! The interpreter is PROGRAM when it is a Python (as a path, or where `PATH` resolves a bare
//! name), else its shebang's interpreter (scripts and console scripts such as gunicorn), else a
//! Python beside PROGRAM (uWSGI in a venv's `bin`), else the `python3` the app's `PATH` finds.
//! The `ddtrace-run` in that interpreter's own directory prefixes argv. Without one, ddtrace is
//! looked for on disk only (the interpreter is never run): `ddtrace/bootstrap/sitecustomize.py`
//! in the interpreter's `site-packages`, in `PYTHONPATH`, `/datadog-lib` or `/dd_tracer/python`;
//! when found, its bootstrap directory is prepended to `PYTHONPATH`, as ddtrace-run and the
//! admission controller do. uWSGI, which ddtrace-run does not support, gets ddtrace's documented
//! `--import=ddtrace.bootstrap.sitecustomize` (with `--enable-threads`) instead.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{Context, Found, Injection, Tracer, shown, versioned};
use crate::environ::Environ;
use crate::environ::{Change, Origin};

/// Where Datadog's injectors put ddtrace (admission controller, serverless-init).
const INJECTOR_DIRS: [&str; 2] = ["/datadog-lib", "/dd_tracer/python"];
const BOOTSTRAP: &str = "ddtrace/bootstrap/sitecustomize.py";

fn is_python(name: &str) -> bool {
    versioned(name, "python")
}

pub(super) fn probe(ctx: &Context<'_>) -> Found {
    if ctx.program == "ddtrace-run" {
        return Found::AlreadyThere("already started through ddtrace-run".into());
    }
    if ctx.program == "uwsgi" && ctx.argv_contains("ddtrace.bootstrap") {
        return Found::AlreadyThere("uWSGI already imports ddtrace's bootstrap".into());
    }
    if let Some(why) = super::already::python(ctx.env) {
        return Found::AlreadyThere(why);
    }
    let Some(interpreter) = ctx.interpreter(is_python, &["python3", "python"]) else {
        return Found::Missing(format!(
            "Python tracer not found: no Python interpreter found for {} (PROGRAM, its shebang, python3 on PATH)",
            ctx.program.escape_debug()
        ));
    };
    let dir = interpreter.parent().unwrap_or(Path::new("/"));
    let run = dir.join("ddtrace-run");
    let has_run = is_executable(&run);
    let package = ddtrace_package(&interpreter, ctx.env, ctx.cwd);
    if ctx.program == "uwsgi" {
        // The `--import` needs ddtrace importable by uWSGI's own Python.
        let importable = has_run || package.as_ref().is_some_and(|p| p.importable);
        if importable {
            return Found::Tracer(Tracer::UwsgiImport);
        }
    } else if has_run {
        return Found::Tracer(Tracer::DdtraceRun(run));
    } else if let Some(package) = package {
        let bootstrap = package.root.join("ddtrace/bootstrap");
        let paths = [Some(&bootstrap), (!package.importable).then_some(&package.root)];
        if let Some(bad) = paths.into_iter().flatten().find(|p| p.to_string_lossy().contains(':')) {
            return Found::Missing(format!(
                "Python tracer at {} cannot go into PYTHONPATH: the path contains ':'",
                shown(bad)
            ));
        }
        let root = (!package.importable).then_some(package.root);
        return Found::Tracer(Tracer::PythonPath { bootstrap, root });
    }
    Found::Missing(format!(
        "Python tracer not found for the interpreter {}: no ddtrace-run in {}, no {BOOTSTRAP} in its \
         site-packages, PYTHONPATH, {} (install ddtrace with that interpreter: {} -m pip install ddtrace)",
        shown(&interpreter),
        shown(dir),
        INJECTOR_DIRS.join(", "),
        shown(&interpreter)
    ))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Where the `ddtrace` package was found.
#[derive(Debug, PartialEq, Eq)]
struct Package {
    /// The directory that holds `ddtrace/`.
    root: PathBuf,
    /// Whether the interpreter imports from `root` by itself (its site-packages, `PYTHONPATH`).
    importable: bool,
}

/// ddtrace for this interpreter, from files only: its environment's site-packages (and, for
/// the system Python in `/usr/bin`, Debian's `/usr/local/lib/pythonX.Y/dist-packages`), then
/// `PYTHONPATH`, then the injectors' directories.
fn ddtrace_package(interpreter: &Path, env: &Environ, cwd: &Path) -> Option<Package> {
    let has = |root: &Path| root.join(BOOTSTRAP).is_file();
    let found = |root: PathBuf, importable: bool| has(&root).then_some(Package { root, importable });
    site_packages(interpreter)
        .into_iter()
        .find_map(|root| found(root, true))
        .or_else(|| {
            let path = env.get("PYTHONPATH")?;
            std::env::split_paths(path)
                .filter(|p| !p.as_os_str().is_empty())
                .find_map(|p| found(cwd.join(p), true))
        })
        .or_else(|| INJECTOR_DIRS.iter().find_map(|d| found(PathBuf::from(d), false)))
}

/// The site-packages directories of the environment `interpreter` belongs to: `<prefix>/lib/
/// pythonX.Y/{site,dist}-packages` where `<prefix>` is the parent of the interpreter's
/// directory. A versioned interpreter (`python3.11`) looks only in its own version's
/// directories.
fn site_packages(interpreter: &Path) -> Vec<PathBuf> {
    let name = interpreter.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let version = name.strip_prefix("python").filter(|v| v.contains('.'));
    let Some(prefix) = interpreter.parent().and_then(Path::parent) else { return Vec::new() };
    let mut libs = vec![prefix.join("lib"), prefix.join("lib64")];
    if prefix == Path::new("/usr") {
        libs.push(PathBuf::from("/usr/local/lib"));
    }
    let mut out = Vec::new();
    for lib in libs {
        let dirs = super::entries_named(&lib, |n| match version {
            Some(v) => n.strip_prefix("python") == Some(v),
            None => versioned(n, "python") && n != "python",
        });
        for dir in dirs {
            out.push(dir.join("site-packages"));
            out.push(dir.join("dist-packages"));
        }
    }
    out
}

pub(super) fn apply(tracer: &Tracer, argv: &[OsString], env: &Environ) -> Injection {
    let mut out = Vec::with_capacity(argv.len() + 2);
    let mut changes = Vec::new();
    match tracer {
        Tracer::DdtraceRun(path) => {
            out.push(path.clone().into_os_string());
            out.extend_from_slice(argv);
        }
        Tracer::PythonPath { bootstrap, root } => {
            out.extend_from_slice(argv);
            let mut parts: Vec<String> = vec![bootstrap.display().to_string()];
            parts.extend(root.iter().map(|r| r.display().to_string()));
            if let Some(existing) = env.get_str("PYTHONPATH").filter(|v| !v.is_empty()) {
                parts.push(existing.to_string());
            }
            changes.push(Change::set("PYTHONPATH", parts.join(":"), Origin::Inject));
        }
        _ => {
            out.extend_from_slice(argv);
            out.push("--import=ddtrace.bootstrap.sitecustomize".into());
            if !argv.iter().any(|a| a == "--enable-threads") {
                out.push("--enable-threads".into());
            }
        }
    }
    Injection { argv: out, changes }
}

#[cfg(test)]
mod tests {
    use super::super::{Mode, Runtime, Tree, probe as probe_all};
    use super::*;

    /// What a test venv holds besides its python.
    #[derive(Clone, Copy, PartialEq)]
    enum Ddtrace {
        /// Neither ddtrace-run nor the package.
        Absent,
        /// The package without ddtrace-run.
        Package,
        /// ddtrace-run and the package.
        PackageAndRun,
    }

    /// A venv at `rel` with python and what `ddtrace` says.
    fn venv(t: &Tree, rel: &str, ddtrace: Ddtrace) -> PathBuf {
        let python = t.file(&format!("{rel}/bin/python"), "", 0o755);
        if ddtrace == Ddtrace::PackageAndRun {
            t.file(&format!("{rel}/bin/ddtrace-run"), "#!/bin/sh\n", 0o755);
        }
        if ddtrace != Ddtrace::Absent {
            t.file(&format!("{rel}/lib/python3.11/site-packages/{BOOTSTRAP}"), "", 0o644);
        }
        python
    }

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn probed(mode: Mode, argv: &[&str], env: &[(&str, &str)]) -> super::super::Probe {
        let env = Environ::from_pairs(env.iter().copied());
        probe_all(mode, None, &os(argv), &env, Path::new("/nonexistent"))
    }

    #[test]
    fn the_venv_named_by_path_or_shebang_is_used_while_not_on_path() {
        let t = Tree::new();
        let python = venv(&t, "venv", Ddtrace::PackageAndRun);
        let run = t.join("venv/bin/ddtrace-run");
        let env = [("PATH", "/nonexistent")];
        let p = probed(Mode::Auto, &[&python.display().to_string(), "app.py"], &env);
        assert_eq!(p.tracer().cloned(), Some(Tracer::DdtraceRun(run.clone())), "{p:?}");
        let script = t.file("app/app.py", &format!("#!{}\nprint(1)\n", python.display()), 0o755);
        for mode in [Mode::Auto, Mode::Force(Runtime::Python)] {
            let p = probed(mode, &[&script.display().to_string()], &env);
            assert_eq!(p.tracer().cloned(), Some(Tracer::DdtraceRun(run.clone())), "{mode:?}: {p:?}");
        }
        // A console script (gunicorn) names its venv's Python in its shebang.
        let gunicorn = t.file("venv/bin/gunicorn", &format!("#!{}\n", python.display()), 0o755);
        let p = probed(Mode::Auto, &[&gunicorn.display().to_string(), "app:app"], &env);
        assert_eq!(p.tracer().cloned(), Some(Tracer::DdtraceRun(run.clone())), "{p:?}");
        // A bare name: the ddtrace-run beside the python PATH resolves it to.
        let p = probed(Mode::Auto, &["python", "app.py"], &[("PATH", &t.path("venv/bin"))]);
        assert_eq!(p.tracer().cloned(), Some(Tracer::DdtraceRun(run)), "{p:?}");
    }

    #[test]
    fn another_environments_ddtrace_run_is_never_paired_with_the_named_interpreter() {
        let t = Tree::new();
        venv(&t, "venv", Ddtrace::PackageAndRun);
        let system = venv(&t, "usr", Ddtrace::Absent);
        let path = format!("{}:{}", t.path("venv/bin"), t.path("usr/bin"));
        let p = probed(Mode::Auto, &[&system.display().to_string(), "app.py"], &[("PATH", &path)]);
        assert_eq!(p.tracer().cloned(), None, "{p:?}");
        let argv = os(&[&system.display().to_string(), "app.py"]);
        let injection = super::super::apply(&p, &argv, &Environ::default());
        assert_eq!((injection.argv, injection.changes), (argv, vec![]), "left unwrapped");
        let warning = p.warning().expect("a warning");
        assert!(warning.contains(&format!("interpreter {}", system.display())), "{warning}");
        assert!(!warning.contains("on PATH"), "{warning}");
    }

    #[test]
    fn the_warning_is_one_line_whatever_the_path() {
        let t = Tree::new();
        let python = t.file("a\nb/bin/python3", "", 0o755);
        let p = probed(Mode::Auto, &[&python.display().to_string()], &[("PATH", "/nonexistent")]);
        let warning = p.warning().expect("warning");
        assert!(!warning.contains('\n') && warning.contains("a\\nb/bin/python3"), "{warning}");
    }

    #[test]
    fn ddtrace_without_ddtrace_run_goes_into_pythonpath() {
        let t = Tree::new();
        let python = venv(&t, "venv", Ddtrace::Package);
        let p = probed(Mode::Auto, &[&python.display().to_string(), "app.py"], &[("PYTHONPATH", "/app")]);
        let bootstrap = t.join("venv/lib/python3.11/site-packages/ddtrace/bootstrap");
        assert_eq!(
            p.tracer().cloned(),
            Some(Tracer::PythonPath { bootstrap: bootstrap.clone(), root: None }),
            "{p:?}"
        );
        let env = Environ::from_pairs([("PYTHONPATH", "/app")]);
        let got = super::super::apply(&p, &os(&["python", "app.py"]), &env);
        assert_eq!(got.argv, os(&["python", "app.py"]));
        assert_eq!(got.changes[0].value, Some(format!("{}:/app", bootstrap.display())));
        // ddtrace in a PYTHONPATH directory: importable already, only the bootstrap is added.
        let bare = venv(&t, "bare", Ddtrace::Absent);
        t.file(&format!("vendor/{BOOTSTRAP}"), "", 0o644);
        let vendor = t.path("vendor");
        let p = probed(Mode::Auto, &[&bare.display().to_string()], &[("PYTHONPATH", &vendor)]);
        let bootstrap = t.join("vendor/ddtrace/bootstrap");
        assert_eq!(p.tracer().cloned(), Some(Tracer::PythonPath { bootstrap, root: None }), "{p:?}");
    }

    #[test]
    fn pythonpath_injection_adds_the_package_root_when_not_importable() {
        let tracer = Tracer::PythonPath {
            bootstrap: "/dd_tracer/python/ddtrace/bootstrap".into(),
            root: Some("/dd_tracer/python".into()),
        };
        let got = apply(&tracer, &os(&["python3", "app.py"]), &Environ::default());
        assert_eq!(got.changes[0].name, "PYTHONPATH");
        assert_eq!(
            got.changes[0].value.as_deref(),
            Some("/dd_tracer/python/ddtrace/bootstrap:/dd_tracer/python")
        );
    }

    #[test]
    fn site_packages_of_an_environment() {
        let t = Tree::new();
        let python = venv(&t, "venv", Ddtrace::Package);
        t.file("venv/lib/python3.12/site-packages/x", "", 0o644);
        let all = site_packages(&python);
        assert!(all.contains(&t.join("venv/lib/python3.11/site-packages")), "{all:?}");
        assert!(all.contains(&t.join("venv/lib/python3.12/site-packages")), "{all:?}");
        let only = site_packages(&t.join("venv/bin/python3.12"));
        assert!(!only.iter().any(|p| p.to_string_lossy().contains("python3.11")), "{only:?}");
    }

    #[test]
    fn uwsgi_in_a_venv_imports_the_bootstrap() {
        let t = Tree::new();
        venv(&t, "venv", Ddtrace::PackageAndRun);
        let uwsgi = t.file("venv/bin/uwsgi", "\u{7f}ELF", 0o755);
        let p = probed(
            Mode::Auto,
            &[&uwsgi.display().to_string(), "--ini", "a.ini"],
            &[("PATH", "/nonexistent")],
        );
        assert_eq!(p.tracer().cloned(), Some(Tracer::UwsgiImport), "{p:?}");
    }
}
