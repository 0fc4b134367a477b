//! Tracer injection: start the app with its Datadog tracer loaded, without code changes.
//!
//! Two steps, like the rest of ddboot. [`probe`] looks at the machine (PROGRAM's name or shebang,
//! the tracer's files, `PATH`) and returns a [`Probe`]: the runtime and the tracer found, or why
//! nothing will be injected. [`apply`] is pure: it turns a probe, argv and the app's environment
//! into the new argv and environment changes. Injection happens only when the tracer is really
//! present (a JVM refuses to start with a missing `-javaagent` jar), never twice (whatever
//! Datadog's own injectors leave behind is respected: see [`already`]), and appends to
//! `NODE_OPTIONS` / `JAVA_TOOL_OPTIONS` / `RUBYOPT` / `PYTHONPATH` instead of replacing them.
//! One module per runtime.

mod already;
mod dotnet;
mod java;
mod node;
mod php;
mod python;
mod ruby;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub(crate) use crate::config::{InjectMode as Mode, Runtime};
use crate::environ::{Change, Environ, Origin};

/// The tracer a probe found, ready to be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tracer {
    /// Prefix argv with this `ddtrace-run` (the one beside the app's interpreter).
    DdtraceRun(PathBuf),
    /// No `ddtrace-run` beside the interpreter, but ddtrace is there: prepend its bootstrap
    /// directory (and the directory holding the `ddtrace` package, when the interpreter would not
    /// find it by itself) to `PYTHONPATH`, as ddtrace-run and the admission controller do.
    PythonPath { bootstrap: PathBuf, root: Option<PathBuf> },
    /// uWSGI: add ddtrace's bootstrap `--import` (ddtrace-run does not support uWSGI).
    UwsgiImport,
    /// `--require` this `dd-trace/init.js`.
    NodeInit(PathBuf),
    /// `-javaagent:` this jar.
    JavaAgent(PathBuf),
    /// The CLR profiler: tracer home and the native profiler for this CPU.
    Dotnet { home: PathBuf, profiler: PathBuf },
    /// PHP-FPM: INI settings, plus a config overlay adding `env[…]` to each pool when the pools
    /// could be found.
    PhpFpm { overlay: Option<php::Overlay> },
    /// Apache httpd with mod_php: `PassEnv` on the command line.
    Apache,
    /// Ruby: `RUBYOPT += -r<this path>` (the gem's `lib/datadog/auto_instrument`, no `.rb`).
    RubyAutoInstrument(PathBuf),
}

impl Tracer {
    /// A short name for reports.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tracer::DdtraceRun(p) => format!("ddtrace-run at {}", p.display()),
            Tracer::PythonPath { bootstrap, .. } => {
                format!("ddtrace's bootstrap {} prepended to PYTHONPATH", bootstrap.display())
            }
            Tracer::RubyAutoInstrument(p) => format!("the datadog gem's auto_instrument at {}", p.display()),
            Tracer::UwsgiImport => "ddtrace's uWSGI bootstrap import".into(),
            Tracer::NodeInit(p) => format!("dd-trace at {}", p.display()),
            Tracer::JavaAgent(p) => format!("Java agent {}", p.display()),
            Tracer::Dotnet { profiler, .. } => format!("CLR profiler {}", profiler.display()),
            Tracer::PhpFpm { overlay: Some(o) } => {
                format!("PHP-FPM INI settings and an overlay for pools {}", o.pools.join(", "))
            }
            Tracer::PhpFpm { overlay: None } => "PHP-FPM INI settings only (no pool overlay)".into(),
            Tracer::Apache => "Apache PassEnv".into(),
        }
    }

    /// The file that proves the tracer is there, for reports.
    pub(crate) fn path(&self) -> Option<&Path> {
        match self {
            Tracer::DdtraceRun(p)
            | Tracer::NodeInit(p)
            | Tracer::JavaAgent(p)
            | Tracer::RubyAutoInstrument(p)
            | Tracer::PythonPath { bootstrap: p, .. } => Some(p),
            Tracer::Dotnet { profiler, .. } => Some(profiler),
            Tracer::PhpFpm { overlay: Some(o) } => Some(&o.config),
            _ => None,
        }
    }
}

/// What the probe found: no runtime, a runtime and why nothing is injected, or a runtime and its
/// tracer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Probe {
    /// Nothing to inject into (`--inject off`, no PROGRAM, no runtime recognised): why.
    NoRuntime(String),
    /// A runtime, but no tracer will be loaded.
    Skipped {
        runtime: Runtime,
        /// How the runtime was recognised: `program name …`, `shebang interpreter …`, `--inject`.
        detected_by: String,
        why: String,
        skip: Skip,
    },
    /// A runtime and the tracer to load.
    Found {
        runtime: Runtime,
        detected_by: String,
        tracer: Tracer,
        /// Anything else worth reporting.
        note: Option<String>,
    },
}

/// Why a recognised runtime gets no tracer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    /// Already injected (by the user or Datadog's own injectors): nothing to say.
    AlreadyThere,
    /// The tracer is not there: warn once, run the app unchanged.
    Missing,
}

impl Probe {
    /// The runtime detected (or forced), if any.
    pub(crate) fn runtime(&self) -> Option<Runtime> {
        match self {
            Probe::NoRuntime(_) => None,
            Probe::Skipped { runtime, .. } | Probe::Found { runtime, .. } => Some(*runtime),
        }
    }

    /// How the runtime was recognised, if one was.
    pub(crate) fn detected_by(&self) -> Option<&str> {
        match self {
            Probe::NoRuntime(_) => None,
            Probe::Skipped { detected_by, .. } | Probe::Found { detected_by, .. } => Some(detected_by),
        }
    }

    /// The tracer to load, if any.
    pub(crate) fn tracer(&self) -> Option<&Tracer> {
        match self {
            Probe::Found { tracer, .. } => Some(tracer),
            _ => None,
        }
    }

    /// Why nothing is injected (not detected, already injected, tracer missing…).
    pub(crate) fn skipped(&self) -> Option<&str> {
        match self {
            Probe::NoRuntime(why) | Probe::Skipped { why, .. } => Some(why),
            Probe::Found { .. } => None,
        }
    }

    /// The warning to print once: a tracer missing where one was expected.
    pub(crate) fn warning(&self) -> Option<String> {
        match self {
            Probe::Skipped { why, skip: Skip::Missing, .. } => {
                Some(format!("ddboot: warning: {why}; starting the app without a tracer"))
            }
            _ => None,
        }
    }

    /// Anything else worth reporting.
    pub(crate) fn note(&self) -> Option<&str> {
        match self {
            Probe::Found { note, .. } => note.as_deref(),
            _ => None,
        }
    }

    /// The generated files the tracer needs (the PHP-FPM overlay), with their text for the app's
    /// environment `env`.
    pub(crate) fn files(&self, env: &Environ) -> Vec<(PathBuf, String)> {
        match self.tracer() {
            Some(Tracer::PhpFpm { overlay: Some(o) }) => vec![(o.config.clone(), php::overlay_text(o, env))],
            _ => Vec::new(),
        }
    }

    /// The same probe without generated files (the PHP-FPM overlay), for when they cannot be
    /// written; `why`, when given, is noted for `--explain`.
    pub(crate) fn without_files(mut self, why: Option<&str>) -> Probe {
        if let Probe::Found { tracer: Tracer::PhpFpm { overlay }, note, .. } = &mut self {
            *overlay = None;
            if let Some(why) = why {
                *note = Some(match note.take() {
                    Some(note) => format!("{note}; {why}"),
                    None => why.to_string(),
                });
            }
        }
        self
    }
}

/// What injection changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Injection {
    pub(crate) argv: Vec<OsString>,
    pub(crate) changes: Vec<Change>,
}

/// Looks at PROGRAM and the filesystem. `env` is the inherited environment (ddboot's own changes
/// touch none of the variables a probe reads), `cwd` the working directory.
pub(crate) fn probe(
    mode: Mode,
    java_agent: Option<&Path>,
    argv: &[OsString],
    env: &Environ,
    cwd: &Path,
) -> Probe {
    let Some(program) = argv.first() else {
        return Probe::NoRuntime("no PROGRAM".into());
    };
    if mode == Mode::Off {
        return Probe::NoRuntime("--inject off".into());
    }
    let program_path = locate(program, env, cwd);
    let shebang = program_path.as_deref().and_then(shebang_interpreter);
    let detected = match mode {
        Mode::Force(r) => Some((r, "--inject".to_string())),
        _ => detect(program, shebang.as_deref()),
    };
    let Some((runtime, detected_by)) = detected else {
        let why = format!("no known runtime in {:?} (name or shebang)", program.to_string_lossy());
        return Probe::NoRuntime(why);
    };
    let ctx = Context {
        argv,
        env,
        cwd,
        program: basename(program),
        shebang: shebang.as_deref().and_then(|s| locate(OsStr::new(s), env, cwd)),
        program_path,
    };
    let ld_so_preload = env
        .get("DDBOOT_LD_SO_PRELOAD")
        .filter(|p| !p.is_empty())
        .unwrap_or(OsStr::new(already::LD_SO_PRELOAD));
    // PHP's changes only pass the variables to PHP-FPM's workers (through clear_env), which a
    // tracer loaded by SSI needs as much as any other.
    if runtime != Runtime::Php
        && let Some(why) = already::everywhere(env, Path::new(ld_so_preload))
    {
        return Probe::Skipped { runtime, detected_by, why, skip: Skip::AlreadyThere };
    }
    let found = match runtime {
        Runtime::Python => python::probe(&ctx),
        Runtime::Node => node::probe(&ctx),
        Runtime::Java => java::probe(&ctx, java_agent),
        Runtime::Dotnet => dotnet::probe(&ctx),
        Runtime::Php => php::probe(&ctx),
        Runtime::Ruby => ruby::probe(&ctx),
    };
    // The option variables are rewritten as text: one that is not valid UTF-8 would be lost, and
    // a tracer path that is not would name a file that does not exist (the runtime then aborts).
    let found = match found {
        Found::Tracer(tracer) => match option_variable(&tracer) {
            Some(var) if env.get(var).is_some_and(|x| x.to_str().is_none()) => {
                Found::Missing(format!("{var} is not valid UTF-8: ddboot leaves it as is and adds no tracer"))
            }
            Some(var) if tracer.path().is_some_and(|p| p.to_str().is_none()) => Found::Missing(format!(
                "{} is not valid UTF-8: it cannot go into {var}, so no tracer is added",
                tracer
                    .path()
                    .map(|p| crate::output::escape_bytes(p.as_os_str().as_encoded_bytes()))
                    .unwrap_or_default()
            )),
            _ => Found::Tracer(tracer),
        },
        other => other,
    };
    match found {
        Found::Tracer(tracer) => {
            let note = (runtime == Runtime::Php && !php::extension_present()).then(|| {
                "the ddtrace extension was not found in the usual places; the variables are passed anyway"
                    .to_string()
            });
            Probe::Found { runtime, detected_by, tracer, note }
        }
        Found::AlreadyThere(why) => Probe::Skipped { runtime, detected_by, why, skip: Skip::AlreadyThere },
        Found::Missing(why) => Probe::Skipped { runtime, detected_by, why, skip: Skip::Missing },
    }
}

/// Turns a probe into argv and environment changes. Pure.
pub(crate) fn apply(probe: &Probe, argv: &[OsString], env: &Environ) -> Injection {
    let Some(tracer) = probe.tracer() else {
        return Injection { argv: argv.to_vec(), ..Injection::default() };
    };
    match tracer {
        Tracer::DdtraceRun(_) | Tracer::UwsgiImport | Tracer::PythonPath { .. } => {
            python::apply(tracer, argv, env)
        }
        Tracer::RubyAutoInstrument(path) => ruby::apply(path, argv, env),
        Tracer::NodeInit(init) => node::apply(init, argv, env),
        Tracer::JavaAgent(jar) => java::apply(jar, argv, env),
        Tracer::Dotnet { home, profiler } => dotnet::apply(home, profiler, argv),
        Tracer::PhpFpm { .. } | Tracer::Apache => php::apply(tracer, argv, env),
    }
}

/// The variable [`apply`] appends the tracer's option to, keeping what it holds.
fn option_variable(tracer: &Tracer) -> Option<&'static str> {
    match tracer {
        Tracer::PythonPath { .. } => Some("PYTHONPATH"),
        Tracer::NodeInit(_) => Some("NODE_OPTIONS"),
        Tracer::JavaAgent(_) => Some("JAVA_TOOL_OPTIONS"),
        Tracer::RubyAutoInstrument(_) => Some("RUBYOPT"),
        _ => None,
    }
}

/// What a runtime module's probe found.
enum Found {
    Tracer(Tracer),
    /// Already injected by the user: nothing to do, no warning.
    AlreadyThere(String),
    /// The tracer is not there: warn once, run the app unchanged.
    Missing(String),
}

/// What the runtime probes look at.
struct Context<'a> {
    argv: &'a [OsString],
    env: &'a Environ,
    cwd: &'a Path,
    /// PROGRAM's basename.
    program: String,
    /// PROGRAM's path: as given (relative to `cwd`) when it has a `/`, else where the app's `PATH`
    /// finds it.
    program_path: Option<PathBuf>,
    /// The interpreter named by PROGRAM's `#!` line, located the same way.
    shebang: Option<PathBuf>,
}

impl Context<'_> {
    /// Whether any argument contains `needle`.
    fn argv_contains(&self, needle: &str) -> bool {
        self.argv.iter().any(|a| a.to_string_lossy().contains(needle))
    }

    /// argv as text, for the "already injected" checks.
    fn argv_strings(&self) -> Vec<String> {
        self.argv.iter().map(|a| a.to_string_lossy().into_owned()).collect()
    }

    /// `name` looked up in the app's PATH.
    fn which(&self, name: &str) -> Option<PathBuf> {
        self.env.which(OsStr::new(name), self.cwd)
    }

    /// The interpreter that will run the app, for runtimes whose tracer must match it (Python's
    /// ddtrace-run, Ruby's gems): PROGRAM itself when `is_interpreter` accepts its name; else the
    /// shebang's interpreter when it is one; else one of `names` in PROGRAM's own directory (a
    /// binary installed in an environment's `bin`, such as uWSGI); else the first of `names`
    /// the app's `PATH` finds. Never resolved through symlinks: a venv's `bin/python` is a
    /// symlink to the system Python, and only its own directory says which environment it is.
    fn interpreter(&self, is_interpreter: impl Fn(&str) -> bool, names: &[&str]) -> Option<PathBuf> {
        if is_interpreter(&self.program) {
            return self.program_path.clone();
        }
        if let Some(shebang) = &self.shebang
            && is_interpreter(&basename(shebang.as_os_str()))
        {
            return Some(shebang.clone());
        }
        let beside = self
            .program_path
            .as_deref()
            .and_then(Path::parent)
            .and_then(|dir| names.iter().map(|n| dir.join(n)).find(|p| p.is_file()));
        beside.or_else(|| names.iter().find_map(|n| self.which(n)))
    }
}

/// The entries of `dir` whose names `keep` accepts, sorted; none when it cannot be read.
fn entries_named(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut found: Vec<PathBuf> =
        entries.flatten().filter(|e| keep(&e.file_name().to_string_lossy())).map(|e| e.path()).collect();
    found.sort();
    found
}

/// Whether `name` is `prefix` followed by an optional version (`python`, `python3.12`).
fn versioned(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix).is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
}

/// A path for a one-line message: control characters (a newline in a file name) escaped.
fn shown(path: &Path) -> String {
    path.display().to_string().escape_debug().to_string()
}

/// PROGRAM's path: as given (from `cwd`) when it contains a `/`, else where `PATH` finds it.
fn locate(program: &OsStr, env: &Environ, cwd: &Path) -> Option<PathBuf> {
    if program.as_bytes().contains(&b'/') { Some(cwd.join(program)) } else { env.which(program, cwd) }
}

/// The runtime a basename belongs to.
fn runtime_of(name: &str) -> Option<Runtime> {
    let versioned = |prefix: &str| versioned(name, prefix);
    if versioned("python") || matches!(name, "gunicorn" | "uvicorn" | "uwsgi" | "celery" | "ddtrace-run") {
        Some(Runtime::Python)
    } else if matches!(name, "node" | "nodejs" | "npm" | "npx") {
        Some(Runtime::Node)
    } else if name == "java" {
        Some(Runtime::Java)
    } else if name == "dotnet" {
        Some(Runtime::Dotnet)
    } else if versioned("php") || versioned("php-fpm") || matches!(name, "apache2" | "httpd") {
        Some(Runtime::Php)
    } else if ruby::is_ruby(name) || matches!(name, "bundle" | "rails" | "puma" | "unicorn" | "sidekiq") {
        Some(Runtime::Ruby)
    } else {
        None
    }
}

/// Recognises the runtime from PROGRAM's name, then from its script's shebang.
fn detect(program: &OsStr, shebang: Option<&str>) -> Option<(Runtime, String)> {
    let name = basename(program);
    if let Some(r) = runtime_of(&name) {
        return Some((r, format!("program name {name}")));
    }
    let interpreter = basename(OsStr::new(shebang?));
    runtime_of(&interpreter).map(|r| (r, format!("shebang interpreter {interpreter}")))
}

/// The interpreter named by a script's `#!` line, as written: `#!/usr/bin/python3` →
/// `/usr/bin/python3`, `#!/usr/bin/env -S node --flag` → `node` (a name `PATH` resolves).
fn shebang_interpreter(path: &Path) -> Option<String> {
    // Non-blocking, regular files only: PROGRAM may be a FIFO that nobody writes.
    let head = crate::file::read_head(path, 256).ok()?;
    let line = head.strip_prefix(b"#!")?;
    let line = line.split(|&b| b == b'\n').next()?;
    let text = String::from_utf8_lossy(line);
    let mut words = text.split_whitespace();
    let first = words.next()?;
    if first.rsplit('/').next() != Some("env") {
        return Some(first.to_string());
    }
    words.find(|w| !w.starts_with('-') && !w.contains('=')).map(str::to_string)
}

fn basename(program: &OsStr) -> String {
    let text = program.to_string_lossy();
    text.rsplit('/').next().unwrap_or(&text).to_string()
}

/// Appends `option` to a space-separated options variable, keeping what the user set.
fn append_option(env: &Environ, name: &str, option: &str) -> Change {
    let value = match env.get_str(name).map(str::trim).filter(|v| !v.is_empty()) {
        Some(existing) => format!("{existing} {option}"),
        None => option.to_string(),
    };
    Change::set(name, value, Origin::Inject)
}

/// A throwaway directory tree for the runtime probes' tests (venvs, gems, interpreters).
#[cfg(test)]
struct Tree(tempfile::TempDir);

#[cfg(test)]
impl Tree {
    fn new() -> Tree {
        Tree(tempfile::Builder::new().prefix("ddboot-inject-").tempdir().expect("tree"))
    }

    fn join(&self, rel: &str) -> PathBuf {
        self.0.path().join(rel)
    }

    /// `rel` as text.
    fn path(&self, rel: &str) -> String {
        self.join(rel).display().to_string()
    }

    /// Writes `text` at `rel` (parents created) with `mode`.
    fn file(&self, rel: &str, text: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        std::fs::write(&path, text).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse() {
        assert_eq!(Mode::parse("AUTO"), Ok(Mode::Auto));
        assert_eq!(Mode::parse("off"), Ok(Mode::Off));
        assert_eq!(Mode::parse("dotnet"), Ok(Mode::Force(Runtime::Dotnet)));
        assert_eq!(Mode::parse("ruby"), Ok(Mode::Force(Runtime::Ruby)));
        assert!(Mode::parse("perl").is_err());
    }

    #[test]
    fn runtimes_by_name() {
        for (name, r) in [
            ("python", Some(Runtime::Python)),
            ("python3.12", Some(Runtime::Python)),
            ("gunicorn", Some(Runtime::Python)),
            ("uwsgi", Some(Runtime::Python)),
            ("celery", Some(Runtime::Python)),
            ("node", Some(Runtime::Node)),
            ("npx", Some(Runtime::Node)),
            ("java", Some(Runtime::Java)),
            ("dotnet", Some(Runtime::Dotnet)),
            ("php", Some(Runtime::Php)),
            ("php-fpm8.2", Some(Runtime::Php)),
            ("php-fpm", Some(Runtime::Php)),
            ("httpd", Some(Runtime::Php)),
            ("apache2", Some(Runtime::Php)),
            ("pythonista", None),
            ("ruby", Some(Runtime::Ruby)),
            ("ruby3.1", Some(Runtime::Ruby)),
            ("go", None),
            ("sh", None),
        ] {
            assert_eq!(runtime_of(name), r, "{name}");
        }
    }

    #[test]
    fn shebangs() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        for (text, expected) in [
            ("#!/usr/bin/python3\nprint(1)\n", Some("/usr/bin/python3")),
            ("#!/usr/bin/env node\n", Some("node")),
            ("#!/usr/bin/env -S python3.11 -u\n", Some("python3.11")),
            ("#! /usr/local/bin/php\n", Some("/usr/local/bin/php")),
            ("#!/opt/venv/bin/python\n", Some("/opt/venv/bin/python")),
            ("echo hi\n", None),
        ] {
            let path = dir.join("script");
            std::fs::write(&path, text).expect("write");
            assert_eq!(shebang_interpreter(&path).as_deref(), expected, "{text:?}");
        }
    }

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    /// What an auto probe decides for `argv` in `env`, from an empty working directory.
    fn probed(argv: &[&str], env: &[(&str, &str)]) -> Probe {
        let env = Environ::from_pairs(env.iter().copied());
        probe(Mode::Auto, None, &os(argv), &env, Path::new("/nonexistent"))
    }

    const SSI_LAUNCHER: &str = "/opt/datadog-packages/datadog-apm-inject/stable/inject/launcher.preload.so";

    #[test]
    fn never_injects_twice() {
        for (argv, env) in [
            (&["ddtrace-run", "python", "app.py"][..], &[][..]),
            (&["node", "app.js"], &[("NODE_OPTIONS", "--require /x/node_modules/dd-trace/init")][..]),
            (&["node", "-r", "dd-trace/init", "app.js"], &[]),
            (
                &["java", "-jar", "app.jar"],
                &[("JAVA_TOOL_OPTIONS", "-Xmx1g -javaagent:/opt/dd-java-agent.jar")],
            ),
            (&["java", "-javaagent:/dd/dd-java-agent.jar", "-jar", "app.jar"], &[]),
            (&["dotnet", "app.dll"], &[("CORECLR_PROFILER", "{846F5F1C-F9AE-4B07-969E-05C26BC060D8}")]),
            (&["uwsgi", "--import=ddtrace.bootstrap.sitecustomize"], &[]),
            // Every form Datadog's own injectors leave behind.
            (&["python", "app.py"], &[("LD_PRELOAD", SSI_LAUNCHER)]),
            (&["node", "app.js"], &[("LD_PRELOAD", SSI_LAUNCHER)]),
            (&["ruby", "app.rb"], &[("DD_INJECT_SENDER_TYPE", "docker")]),
            (&["python", "app.py"], &[("PYTHONPATH", "/datadog-lib/")]),
            (&["python", "app.py"], &[("PYTHONPATH", "/app:/dd_tracer/python/ddtrace/bootstrap")]),
            (&["node", "app.js"], &[("NODE_OPTIONS", "--require=/datadog-lib/node_modules/dd-trace/init")]),
            (&["node", "app.js"], &[("NODE_OPTIONS", "--import dd-trace/initialize.mjs")]),
            (&["node", "app.js"], &[("NODE_OPTIONS", "-r dd-trace/init")]),
            (
                &["java", "-jar", "a.jar"],
                &[("JAVA_TOOL_OPTIONS", "-javaagent:/datadog-lib/dd-java-agent.jar")],
            ),
            (&["java", "-jar", "a.jar"], &[("JAVA_TOOL_OPTIONS", "-javaagent:/x/dd-java-agent-1.40.0.jar")]),
            (&["ruby", "app.rb"], &[("RUBYOPT", "-r/datadog-lib/auto_inject")]),
            (&["bundle", "exec", "puma"], &[("RUBYOPT", "-rdatadog/auto_instrument")]),
        ] {
            let p = probed(argv, env);
            assert!(p.tracer().is_none(), "{argv:?}: {p:?}");
            assert!(p.warning().is_none(), "already injected is not worth a warning: {argv:?}");
            assert!(p.skipped().is_some_and(|why| why.contains("already")), "{argv:?}");
        }
    }

    #[test]
    fn php_fpm_workers_get_the_variables_even_under_ssi() {
        let p = probed(&["php-fpm8.2", "-F"], &[("LD_PRELOAD", SSI_LAUNCHER)]);
        assert!(matches!(p.tracer(), Some(Tracer::PhpFpm { .. })), "{p:?}");
        let p = probed(&["apache2", "-DFOREGROUND"], &[("DD_INJECT_SENDER_TYPE", "docker")]);
        assert_eq!(p.tracer(), Some(&Tracer::Apache), "{p:?}");
    }

    #[test]
    fn a_missing_tracer_warns_and_changes_nothing() {
        let p = probed(&["python3", "app.py"], &[("PATH", "/nonexistent")]);
        assert_eq!(p.runtime(), Some(Runtime::Python));
        assert!(p.warning().as_deref().is_some_and(|w| w.contains("Python tracer not found")), "{p:?}");
        let injection = apply(&p, &os(&["python3", "app.py"]), &Environ::default());
        assert_eq!(injection, Injection { argv: os(&["python3", "app.py"]), ..Injection::default() });
    }

    #[test]
    fn python_prefixes_ddtrace_run_and_uwsgi_imports_the_bootstrap() {
        let probe_with = |tracer| Probe::Found {
            runtime: Runtime::Python,
            detected_by: String::new(),
            tracer,
            note: None,
        };
        let run = probe_with(Tracer::DdtraceRun(PathBuf::from("/venv/bin/ddtrace-run")));
        let got = apply(&run, &os(&["gunicorn", "app:wsgi", ""]), &Environ::default());
        assert_eq!(got.argv, os(&["/venv/bin/ddtrace-run", "gunicorn", "app:wsgi", ""]));
        let uwsgi = probe_with(Tracer::UwsgiImport);
        let got = apply(&uwsgi, &os(&["uwsgi", "--ini", "app.ini"]), &Environ::default());
        assert_eq!(
            got.argv,
            os(&[
                "uwsgi",
                "--ini",
                "app.ini",
                "--import=ddtrace.bootstrap.sitecustomize",
                "--enable-threads"
            ])
        );
        let got = apply(&uwsgi, &os(&["uwsgi", "--enable-threads"]), &Environ::default());
        assert_eq!(got.argv, os(&["uwsgi", "--enable-threads", "--import=ddtrace.bootstrap.sitecustomize"]));
    }

    #[test]
    fn options_are_appended_not_replaced() {
        let env = Environ::from_pairs([("NODE_OPTIONS", "--max-old-space-size=512")]);
        let c = append_option(&env, "NODE_OPTIONS", "--require /x/init.js");
        assert_eq!(c.value.as_deref(), Some("--max-old-space-size=512 --require /x/init.js"));
        let c = append_option(&Environ::default(), "JAVA_TOOL_OPTIONS", "-javaagent:/a.jar");
        assert_eq!(c.value.as_deref(), Some("-javaagent:/a.jar"));
    }
}
