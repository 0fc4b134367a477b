//! Tracer injection: start the app with its Datadog tracer loaded, without code changes.
//!
//! Two steps, like the rest of ddboot. [`probe`] looks at the machine (PROGRAM's name or shebang,
//! the tracer's files, `PATH`) and returns a [`Probe`]: the runtime and the tracer found, or why
//! nothing will be injected. [`apply`] is pure: it turns a probe, argv and the app's environment
//! into the new argv and environment changes. Injection happens only when the tracer is really
//! present (a JVM refuses to start with a missing `-javaagent` jar), never twice (an existing
//! `ddtrace-run`, `dd-trace/init`, `-javaagent:…dd-java-agent`, or `CORECLR_PROFILER` is
//! respected), and appends to `NODE_OPTIONS` / `JAVA_TOOL_OPTIONS` instead of replacing them.
//! One module per runtime.

mod dotnet;
mod java;
mod node;
mod php;
mod python;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::environ::Environ;
use crate::plan::Change;

/// What `--inject` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Off,
    Auto,
    Force(Runtime),
}

impl Mode {
    /// Parses `off`, `auto`, `python`, `node`, `java`, `dotnet`, `php` (any case).
    pub fn parse(text: &str) -> Result<Mode, String> {
        let t = text.trim().to_ascii_lowercase();
        match t.as_str() {
            "off" | "" => Ok(Mode::Off),
            "auto" => Ok(Mode::Auto),
            _ => {
                Runtime::ALL.into_iter().find(|r| r.name() == t).map(Mode::Force).ok_or_else(|| {
                    format!("{text:?} is not one of off, auto, python, node, java, dotnet, php")
                })
            }
        }
    }
}

/// A language runtime ddboot can load a tracer into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Python,
    Node,
    Java,
    Dotnet,
    Php,
}

impl Runtime {
    pub const ALL: [Runtime; 5] =
        [Runtime::Python, Runtime::Node, Runtime::Java, Runtime::Dotnet, Runtime::Php];

    pub fn name(self) -> &'static str {
        match self {
            Runtime::Python => "python",
            Runtime::Node => "node",
            Runtime::Java => "java",
            Runtime::Dotnet => "dotnet",
            Runtime::Php => "php",
        }
    }
}

/// The tracer a probe found, ready to be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tracer {
    /// Prefix argv with this `ddtrace-run`.
    DdtraceRun(PathBuf),
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
}

impl Tracer {
    /// A short name for reports.
    pub fn describe(&self) -> String {
        match self {
            Tracer::DdtraceRun(p) => format!("ddtrace-run at {}", p.display()),
            Tracer::UwsgiImport => "ddtrace's uWSGI bootstrap import".into(),
            Tracer::NodeInit(p) => format!("dd-trace at {}", p.display()),
            Tracer::JavaAgent(p) => format!("Java agent {}", p.display()),
            Tracer::Dotnet { profiler, .. } => format!("CLR profiler {}", profiler.display()),
            Tracer::PhpFpm { overlay: Some(o) } => {
                format!("PHP-FPM INI settings and an overlay for pools {}", o.pools.join(", "))
            }
            Tracer::PhpFpm { overlay: None } => "PHP-FPM INI settings (no pool configuration found)".into(),
            Tracer::Apache => "Apache PassEnv".into(),
        }
    }

    /// The file that proves the tracer is there, for reports.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Tracer::DdtraceRun(p) | Tracer::NodeInit(p) | Tracer::JavaAgent(p) => Some(p),
            Tracer::Dotnet { profiler, .. } => Some(profiler),
            Tracer::PhpFpm { overlay: Some(o) } => Some(&o.config),
            _ => None,
        }
    }
}

/// What the probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub mode: Mode,
    /// The runtime detected (or forced), if any.
    pub runtime: Option<Runtime>,
    /// How the runtime was recognised: `basename`, `shebang …`, `--inject`.
    pub detected_by: String,
    /// The tracer to load; `None` with `skipped` saying why.
    pub tracer: Option<Tracer>,
    /// Why nothing is injected (not detected, already injected, tracer missing…).
    pub skipped: Option<String>,
    /// A warning to print once (tracer missing where one was expected).
    pub warning: Option<String>,
    /// Anything else worth reporting.
    pub note: Option<String>,
}

impl Probe {
    /// The same probe without generated files (the PHP-FPM overlay), for when they cannot be
    /// written.
    pub fn without_files(mut self) -> Probe {
        if let Some(Tracer::PhpFpm { overlay }) = &mut self.tracer {
            *overlay = None;
        }
        self
    }

    fn none(mode: Mode, runtime: Option<Runtime>, detected_by: String, why: String, warn: bool) -> Probe {
        let warning = warn.then(|| format!("ddboot: warning: {why}; starting the app without a tracer"));
        Probe { mode, runtime, detected_by, tracer: None, skipped: Some(why), warning, note: None }
    }
}

/// What injection changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Injection {
    pub argv: Vec<OsString>,
    pub changes: Vec<Change>,
    /// Files to write before the exec (path, contents): the PHP-FPM overlay.
    pub files: Vec<(PathBuf, String)>,
}

/// Looks at PROGRAM and the filesystem. `env` is the app's environment (after ddboot's other
/// changes), `cwd` the working directory.
pub fn probe(mode: Mode, java_agent: Option<&Path>, argv: &[OsString], env: &Environ, cwd: &Path) -> Probe {
    let Some(program) = argv.first() else {
        return Probe::none(mode, None, String::new(), "no PROGRAM".into(), false);
    };
    let (runtime, detected_by) = match mode {
        Mode::Off => return Probe::none(mode, None, String::new(), "--inject off".into(), false),
        Mode::Force(r) => (r, "--inject".to_string()),
        Mode::Auto => match detect(program, env, cwd) {
            Some(found) => found,
            None => {
                let why = format!("no known runtime in {:?} (name or shebang)", program.to_string_lossy());
                return Probe::none(mode, None, String::new(), why, false);
            }
        },
    };
    let ctx = Context { argv, env, cwd, program: basename(program) };
    let found = match runtime {
        Runtime::Python => python::probe(&ctx),
        Runtime::Node => node::probe(&ctx),
        Runtime::Java => java::probe(&ctx, java_agent),
        Runtime::Dotnet => dotnet::probe(&ctx),
        Runtime::Php => php::probe(&ctx),
    };
    match found {
        Found::Tracer(tracer) => {
            let note = (runtime == Runtime::Php && !php::extension_present()).then(|| {
                "the ddtrace extension was not found in the usual places; the variables are passed anyway"
                    .to_string()
            });
            Probe {
                mode,
                runtime: Some(runtime),
                detected_by,
                tracer: Some(tracer),
                skipped: None,
                warning: None,
                note,
            }
        }
        Found::AlreadyThere(why) => Probe::none(mode, Some(runtime), detected_by, why, false),
        Found::Missing(why) => Probe::none(mode, Some(runtime), detected_by, why, true),
    }
}

/// Turns a probe into argv and environment changes. Pure.
pub fn apply(probe: &Probe, argv: &[OsString], env: &Environ) -> Injection {
    let Some(tracer) = &probe.tracer else {
        return Injection { argv: argv.to_vec(), ..Injection::default() };
    };
    match tracer {
        Tracer::DdtraceRun(_) | Tracer::UwsgiImport => python::apply(tracer, argv),
        Tracer::NodeInit(init) => node::apply(init, argv, env),
        Tracer::JavaAgent(jar) => java::apply(jar, argv, env),
        Tracer::Dotnet { home, profiler } => dotnet::apply(home, profiler, argv),
        Tracer::PhpFpm { .. } | Tracer::Apache => php::apply(tracer, argv, env),
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
}

impl Context<'_> {
    /// Whether any argument contains `needle`.
    fn argv_contains(&self, needle: &str) -> bool {
        self.argv.iter().any(|a| a.to_string_lossy().contains(needle))
    }

    /// PROGRAM looked up in the app's PATH.
    fn which(&self, name: &str) -> Option<PathBuf> {
        let path = self.env.search_path();
        which::which_in(name, Some(path), self.cwd).ok()
    }
}

/// The runtime a basename belongs to.
fn runtime_of(name: &str) -> Option<Runtime> {
    let versioned = |prefix: &str| {
        name.strip_prefix(prefix).is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
    };
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
    } else {
        None
    }
}

/// Recognises the runtime from PROGRAM's name, then from its script's shebang.
fn detect(program: &OsStr, env: &Environ, cwd: &Path) -> Option<(Runtime, String)> {
    let name = basename(program);
    if let Some(r) = runtime_of(&name) {
        return Some((r, format!("program name {name}")));
    }
    let path = if program.as_bytes().contains(&b'/') {
        cwd.join(program)
    } else {
        let search = env.search_path();
        which::which_in(program, Some(search), cwd).ok()?
    };
    let interpreter = shebang_interpreter(&path)?;
    runtime_of(&interpreter).map(|r| (r, format!("shebang interpreter {interpreter}")))
}

/// The interpreter named by a script's `#!` line: `#!/usr/bin/python3` → python3,
/// `#!/usr/bin/env -S node --flag` → node.
fn shebang_interpreter(path: &Path) -> Option<String> {
    // Non-blocking, regular files only: PROGRAM may be a FIFO that nobody writes.
    let head = crate::file::read_head(path, 256).ok()?;
    let line = head.strip_prefix(b"#!")?;
    let line = line.split(|&b| b == b'\n').next()?;
    let text = String::from_utf8_lossy(line);
    let mut words = text.split_whitespace();
    let first = words.next()?;
    let first = first.rsplit('/').next().unwrap_or(first);
    if first != "env" {
        return Some(first.to_string());
    }
    words
        .find(|w| !w.starts_with('-') && !w.contains('='))
        .map(|w| w.rsplit('/').next().unwrap_or(w).to_string())
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
    Change { name: name.into(), value: Some(value), origin: "inject".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse() {
        assert_eq!(Mode::parse("AUTO"), Ok(Mode::Auto));
        assert_eq!(Mode::parse("off"), Ok(Mode::Off));
        assert_eq!(Mode::parse("dotnet"), Ok(Mode::Force(Runtime::Dotnet)));
        assert!(Mode::parse("ruby").is_err());
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
            ("ruby", None),
            ("sh", None),
        ] {
            assert_eq!(runtime_of(name), r, "{name}");
        }
    }

    #[test]
    fn shebangs() {
        let dir = std::env::temp_dir().join(format!("ddboot-shebang-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        for (text, expected) in [
            ("#!/usr/bin/python3\nprint(1)\n", Some("python3")),
            ("#!/usr/bin/env node\n", Some("node")),
            ("#!/usr/bin/env -S python3.11 -u\n", Some("python3.11")),
            ("#! /usr/local/bin/php\n", Some("php")),
            ("echo hi\n", None),
        ] {
            let path = dir.join("script");
            std::fs::write(&path, text).expect("write");
            assert_eq!(shebang_interpreter(&path).as_deref(), expected, "{text:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    /// What an auto probe decides for `argv` in `env`, from an empty working directory.
    fn probed(argv: &[&str], env: &[(&str, &str)]) -> Probe {
        let env = Environ::from_pairs(env.iter().copied());
        probe(Mode::Auto, None, &os(argv), &env, Path::new("/nonexistent"))
    }

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
        ] {
            let p = probed(argv, env);
            assert!(p.tracer.is_none(), "{argv:?}: {p:?}");
            assert!(p.warning.is_none(), "already injected is not worth a warning: {argv:?}");
            assert!(p.skipped.is_some_and(|why| why.contains("already")), "{argv:?}");
        }
    }

    #[test]
    fn a_missing_tracer_warns_and_changes_nothing() {
        let p = probed(&["python3", "app.py"], &[("PATH", "/nonexistent")]);
        assert_eq!(p.runtime, Some(Runtime::Python));
        assert!(p.warning.as_deref().is_some_and(|w| w.contains("ddtrace-run")), "{p:?}");
        let injection = apply(&p, &os(&["python3", "app.py"]), &Environ::default());
        assert_eq!(injection, Injection { argv: os(&["python3", "app.py"]), ..Injection::default() });
    }

    #[test]
    fn python_prefixes_ddtrace_run_and_uwsgi_imports_the_bootstrap() {
        let probe_with = |tracer| Probe {
            mode: Mode::Auto,
            runtime: Some(Runtime::Python),
            detected_by: String::new(),
            tracer: Some(tracer),
            skipped: None,
            warning: None,
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
