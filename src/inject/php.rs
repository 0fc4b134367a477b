//! PHP: make the Datadog variables reach PHP-FPM's workers, whose default `clear_env` hides the
//! master's environment, with no edit of the user's configuration.
//!
//! For PHP-FPM, two mechanisms: `-d datadog.*=…` INI settings (read by the ddtrace extension in
//! every worker) and, when the pools of the configuration can be found (`-y`/`--fpm-config`, or
//! the default configuration), an overlay configuration that includes the user's file and
//! re-opens each pool to add `env[NAME] = $NAME` (Datadog's documented fix, which PHP-FPM expands
//! from the master's environment); argv then points `-y` at the overlay. Only variables that are
//! set are passed (an unset `$NAME` would become an empty string). For Apache httpd with mod_php,
//! `-C "PassEnv …"`. The PHP CLI inherits the environment: nothing to do. These changes are
//! configuration only: they cannot keep the server from starting, so they are made even when the
//! ddtrace extension is not found in the usual places (the report says so).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{Context, Found, Injection, Tracer};
use crate::environ::Environ;

/// Datadog variables and the ddtrace INI settings that mirror them.
pub(crate) const VARIABLES: [(&str, &str); 6] = [
    ("DD_AGENT_HOST", "datadog.agent_host"),
    ("DD_ENV", "datadog.env"),
    ("DD_SERVICE", "datadog.service"),
    ("DD_VERSION", "datadog.version"),
    ("DD_TRACE_AGENT_URL", "datadog.trace.agent_url"),
    ("DD_DOGSTATSD_URL", "datadog.dogstatsd_url"),
];
/// How deep `include=` directives are followed.
const MAX_INCLUDE_DEPTH: usize = 4;
const MAX_CONFIG_SIZE: u64 = 1024 * 1024;
/// The most configuration files read for one start (each is read once, however often included).
const MAX_CONFIG_FILES: usize = 256;

/// A generated PHP-FPM configuration that wraps the user's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Overlay {
    /// Where the overlay is written.
    pub(crate) config: PathBuf,
    /// The user's configuration it includes.
    pub(crate) original: PathBuf,
    /// The pools found in it.
    pub(crate) pools: Vec<String>,
    /// Where in argv the user's configuration path is (replaced by the overlay's).
    pub(crate) argv_index: ConfigArg,
}

/// Where argv names PHP-FPM's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConfigArg {
    /// Not given: the overlay is added as `--fpm-config=…`.
    Absent,
    /// `-y FILE` / `--fpm-config FILE`: FILE is at this index.
    Separate(usize),
    /// `-yFILE` / `--fpm-config=FILE` at this index.
    Joined(usize),
}

pub(super) fn probe(ctx: &Context<'_>) -> Found {
    let name = ctx.program.as_str();
    if name == "apache2" || name == "httpd" {
        return Found::Tracer(Tracer::Apache);
    }
    if !name.starts_with("php-fpm") {
        return Found::AlreadyThere("the PHP CLI inherits the environment: nothing to do".into());
    }
    let (given, argv_index) = fpm_config_arg(ctx.argv);
    let prefix = match option_value(ctx.argv, "-p", "--prefix") {
        Some(p) => ctx.cwd.join(p),
        None => default_prefix(name),
    };
    let original = match given {
        Some(path) => Some(ctx.cwd.join(path)),
        None if option_value(ctx.argv, "-p", "--prefix").is_some() => Some(prefix.join("etc/php-fpm.conf")),
        None => default_config(name),
    }
    .filter(|p| p.is_file());
    let overlay = original.and_then(|original| {
        let mut walk = Walk::default();
        walk.collect(&original, &prefix, 0);
        let pools = walk.pools;
        // A random name: concurrent starts sharing $TMPDIR each get their own overlay, which
        // is created O_EXCL and kept for the app's lifetime (php-fpm re-reads it on reload).
        let random = crate::file::random_u64().ok()?;
        (!pools.is_empty()).then(|| Overlay {
            config: temp_dir(ctx.env, ctx.cwd)
                .join(format!("ddboot-{}", nix::unistd::geteuid()))
                .join(format!("php-fpm.{random:016x}.conf")),
            original,
            pools,
            argv_index,
        })
    });
    Found::Tracer(Tracer::PhpFpm { overlay })
}

/// Whether the ddtrace extension is installed in one of the usual places.
pub(crate) fn extension_present() -> bool {
    let dirs = ["/usr/lib/php", "/usr/local/lib/php/extensions", "/opt/datadog/dd-library"];
    dirs.iter().any(|d| contains_file(Path::new(d), "ddtrace.so", 3))
}

fn contains_file(dir: &Path, name: &str, depth: usize) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.flatten().any(|e| {
        let path = e.path();
        if e.file_name() == name {
            return true;
        }
        depth > 0 && path.is_dir() && contains_file(&path, name, depth - 1)
    })
}

/// The app's temporary directory, from the inherited environment as `std::env::temp_dir` would
/// read it (`$TMPDIR`, relative to `cwd` when relative; `/tmp` when unset or empty).
fn temp_dir(env: &Environ, cwd: &Path) -> PathBuf {
    match env.get("TMPDIR").filter(|dir| !dir.is_empty()) {
        Some(dir) => cwd.join(dir),
        None => PathBuf::from("/tmp"),
    }
}

/// The `-y FILE` / `-yFILE` / `--fpm-config FILE` / `--fpm-config=FILE` argument: the path, and
/// where argv holds it.
fn fpm_config_arg(argv: &[OsString]) -> (Option<PathBuf>, ConfigArg) {
    for (i, arg) in argv.iter().enumerate().skip(1) {
        let a = arg.to_string_lossy();
        if a == "-y" || a == "--fpm-config" {
            return match argv.get(i + 1) {
                Some(path) => (Some(PathBuf::from(path)), ConfigArg::Separate(i + 1)),
                None => (None, ConfigArg::Absent),
            };
        }
        if let Some(path) = a.strip_prefix("--fpm-config=").or_else(|| a.strip_prefix("-y")) {
            return (Some(PathBuf::from(path)), ConfigArg::Joined(i));
        }
    }
    (None, ConfigArg::Absent)
}

/// The value of a short (`-p X`, `-pX`) or long (`--prefix X`, `--prefix=X`) option.
fn option_value(argv: &[OsString], short: &str, long: &str) -> Option<PathBuf> {
    let mut args = argv.iter().skip(1).map(|a| a.to_string_lossy().into_owned());
    while let Some(a) = args.next() {
        if a == short || a == long {
            return args.next().map(PathBuf::from);
        }
        if let Some(v) = a.strip_prefix(&format!("{long}=")) {
            return Some(PathBuf::from(v));
        }
        if let Some(v) = a.strip_prefix(short).filter(|v| !v.is_empty() && !a.starts_with("--")) {
            return Some(PathBuf::from(v));
        }
    }
    None
}

/// PHP-FPM's compiled-in prefix, against which relative `include` paths resolve: `/usr` for
/// Debian's `php-fpmX.Y`, `/usr/local` for the official image's `php-fpm`.
fn default_prefix(program: &str) -> PathBuf {
    if program == "php-fpm" { PathBuf::from("/usr/local") } else { PathBuf::from("/usr") }
}

/// PHP-FPM's compiled-in configuration: Debian's `/etc/php/X.Y/fpm/php-fpm.conf` for
/// `php-fpmX.Y`, the official image's `/usr/local/etc/php-fpm.conf` otherwise.
fn default_config(program: &str) -> Option<PathBuf> {
    let version = program.strip_prefix("php-fpm").filter(|v| !v.is_empty());
    match version {
        Some(v) => Some(PathBuf::from(format!("/etc/php/{v}/fpm/php-fpm.conf"))),
        None => Some(PathBuf::from("/usr/local/etc/php-fpm.conf")),
    }
}

/// The walk through an FPM configuration and its includes: each file (by canonical path) is read
/// at most once and at most [`MAX_CONFIG_FILES`] are read in all, so includes that include
/// themselves or each other (`include=pool.d/*.conf` inside `pool.d/`) cost one read per file,
/// not one per path through the include graph.
#[derive(Debug, Default)]
struct Walk {
    pools: Vec<String>,
    visited: std::collections::HashSet<PathBuf>,
}

impl Walk {
    /// Reads `path` (an INI-style FPM configuration; opened non-blocking, a regular file only) and
    /// collects pool sections, following `include=` globs (relative ones from `prefix`, as
    /// PHP-FPM does).
    fn collect(&mut self, path: &Path, prefix: &Path, depth: usize) {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if self.visited.len() >= MAX_CONFIG_FILES || !self.visited.insert(key) {
            return;
        }
        let Ok(bytes) = crate::file::read_head(path, MAX_CONFIG_SIZE) else { return };
        let Ok(text) = String::from_utf8(bytes) else { return };
        for raw in text.lines() {
            let line = raw.trim();
            if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let section = section.trim();
                if !section.eq_ignore_ascii_case("global") && !self.pools.iter().any(|p| p == section) {
                    self.pools.push(section.to_string());
                }
            } else if let Some((key, value)) = line.split_once('=')
                && key.trim() == "include"
                && depth < MAX_INCLUDE_DEPTH
            {
                let value = value.split(';').next().unwrap_or("").trim().trim_matches('"');
                let pattern = prefix.join(value);
                for file in expand_glob(&pattern.to_string_lossy()) {
                    self.collect(&file, prefix, depth + 1);
                }
            }
        }
    }
}

/// `dir/*.conf`-style globs: a `*` wildcard in the last path component only.
fn expand_glob(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let Some((prefix, suffix)) = name.split_once('*') else {
        return vec![path.to_path_buf()];
    };
    let dir = path.parent().unwrap_or(Path::new("/"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.len() >= prefix.len() + suffix.len() && n.starts_with(prefix) && n.ends_with(suffix)
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

/// The variables to pass: those set and non-empty in the app's environment.
fn present(env: &Environ) -> Vec<(&'static str, &'static str, String)> {
    VARIABLES
        .iter()
        .filter_map(|(var, ini)| env.non_empty(var).map(|v| (*var, *ini, v.to_string())))
        .collect()
}

/// The overlay's text: include the original, then re-open each pool with `env[…]` lines.
pub(crate) fn overlay_text(overlay: &Overlay, env: &Environ) -> String {
    let mut text = format!(
        "; Written by ddboot: includes {} and passes the Datadog variables to the workers.\ninclude = {}\n",
        overlay.original.display(),
        overlay.original.display()
    );
    for pool in &overlay.pools {
        text.push_str(&format!("\n[{pool}]\n"));
        for (var, _, _) in present(env) {
            text.push_str(&format!("env[{var}] = ${var}\n"));
        }
    }
    text
}

pub(super) fn apply(tracer: &Tracer, argv: &[OsString], env: &Environ) -> Injection {
    let vars = present(env);
    let mut out: Vec<OsString> = argv.iter().take(1).cloned().collect();
    match tracer {
        Tracer::Apache if !vars.is_empty() => {
            let names: Vec<&str> = vars.iter().map(|(v, _, _)| *v).collect();
            out.push("-C".into());
            out.push(format!("PassEnv {}", names.join(" ")).into());
        }
        Tracer::PhpFpm { .. } => {
            for (_, ini, value) in &vars {
                out.push("-d".into());
                out.push(format!("{ini}={value}").into());
            }
        }
        _ => {}
    }
    let offset = out.len() - argv.len().min(1);
    out.extend(argv.iter().skip(1).cloned());
    if let Tracer::PhpFpm { overlay: Some(o) } = tracer {
        let joined = format!("--fpm-config={}", o.config.display());
        match o.argv_index {
            ConfigArg::Joined(i) => out[i + offset] = joined.into(),
            ConfigArg::Separate(i) => out[i + offset] = o.config.clone().into_os_string(),
            ConfigArg::Absent => out.insert(1, joined.into()),
        }
    }
    Injection { argv: out, changes: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn finds_the_fpm_config_argument() {
        assert_eq!(
            fpm_config_arg(&os(&["php-fpm", "-F", "-y", "p.conf"])),
            (Some("p.conf".into()), ConfigArg::Separate(3))
        );
        assert_eq!(
            fpm_config_arg(&os(&["php-fpm", "--fpm-config=p.conf"])),
            (Some("p.conf".into()), ConfigArg::Joined(1))
        );
        assert_eq!(
            fpm_config_arg(&os(&["php-fpm", "-yp.conf", "-F"])),
            (Some("p.conf".into()), ConfigArg::Joined(1))
        );
        assert_eq!(fpm_config_arg(&os(&["php-fpm", "-F"])), (None, ConfigArg::Absent));
        assert_eq!(fpm_config_arg(&os(&["php-fpm", "-y"])), (None, ConfigArg::Absent));
    }

    #[test]
    fn prefix_options() {
        assert_eq!(option_value(&os(&["php-fpm", "-p", "/srv"]), "-p", "--prefix"), Some("/srv".into()));
        assert_eq!(option_value(&os(&["php-fpm", "-p/srv"]), "-p", "--prefix"), Some("/srv".into()));
        assert_eq!(option_value(&os(&["php-fpm", "--prefix=/srv"]), "-p", "--prefix"), Some("/srv".into()));
        assert_eq!(option_value(&os(&["php-fpm", "-F"]), "-p", "--prefix"), None);
        assert_eq!(default_prefix("php-fpm"), PathBuf::from("/usr/local"));
        assert_eq!(default_prefix("php-fpm8.2"), PathBuf::from("/usr"));
    }

    #[test]
    fn fpm_gets_ini_settings_and_the_overlay() {
        let env =
            Environ::from_pairs([("DD_AGENT_HOST", "10.0.0.1"), ("DD_SERVICE", "shop"), ("DD_ENV", "")]);
        let overlay = Overlay {
            config: "/tmp/o.conf".into(),
            original: "/etc/p.conf".into(),
            pools: vec!["www".into(), "api".into()],
            argv_index: ConfigArg::Separate(3),
        };
        let tracer = Tracer::PhpFpm { overlay: Some(overlay.clone()) };
        let got = apply(&tracer, &os(&["php-fpm8.2", "-F", "-y", "p.conf", "-R"]), &env).argv;
        assert_eq!(
            got,
            os(&[
                "php-fpm8.2",
                "-d",
                "datadog.agent_host=10.0.0.1",
                "-d",
                "datadog.service=shop",
                "-F",
                "-y",
                "/tmp/o.conf",
                "-R"
            ])
        );
        let text = overlay_text(&overlay, &env);
        assert!(text.contains("include = /etc/p.conf\n"));
        assert!(text.contains("[www]\nenv[DD_AGENT_HOST] = $DD_AGENT_HOST\nenv[DD_SERVICE] = $DD_SERVICE\n"));
        assert!(text.contains("[api]\n"));
        assert!(!text.contains("DD_ENV"), "unset or empty variables are not passed");
    }

    #[test]
    fn the_overlay_goes_to_the_apps_tmpdir() {
        let cwd = Path::new("/srv/app");
        let none = Environ::from_pairs([("PATH", "/bin")]);
        assert_eq!(temp_dir(&none, cwd), Path::new("/tmp"));
        let empty = Environ::from_pairs([("TMPDIR", "")]);
        assert_eq!(temp_dir(&empty, cwd), Path::new("/tmp"));
        let absolute = Environ::from_pairs([("TMPDIR", "/var/tmp")]);
        assert_eq!(temp_dir(&absolute, cwd), Path::new("/var/tmp"));
        let relative = Environ::from_pairs([("TMPDIR", "tmp")]);
        assert_eq!(temp_dir(&relative, cwd), Path::new("/srv/app/tmp"));
    }

    #[test]
    fn apache_gets_passenv() {
        let env = Environ::from_pairs([("DD_AGENT_HOST", "10.0.0.1"), ("DD_VERSION", "2")]);
        let got = apply(&Tracer::Apache, &os(&["apache2", "-DFOREGROUND"]), &env).argv;
        assert_eq!(got, os(&["apache2", "-C", "PassEnv DD_AGENT_HOST DD_VERSION", "-DFOREGROUND"]));
    }

    #[test]
    fn collects_pools_through_includes() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        std::fs::create_dir_all(dir.join("pool.d")).expect("dir");
        std::fs::write(dir.join("pool.d/a.conf"), "[www]\nlisten = 1\n").expect("w");
        std::fs::write(dir.join("pool.d/b.conf"), "; c\n[api]\n[www]\n").expect("w");
        let main = dir.join("php-fpm.conf");
        std::fs::write(
            &main,
            format!("[global]\npid = x\ninclude={}/pool.d/*.conf ; comment\n", dir.display()),
        )
        .expect("w");
        let mut walk = Walk::default();
        walk.collect(&main, Path::new("/nonexistent"), 0);
        assert_eq!(walk.pools, ["www", "api"]);
        // A relative include resolves from the prefix, not from the working directory.
        std::fs::write(&main, "[global]\ninclude=pool.d/*.conf\n").expect("w");
        let mut walk = Walk::default();
        walk.collect(&main, &dir, 0);
        assert_eq!(walk.pools, ["www", "api"]);
    }

    /// 25 files that each include all 25 (`*.conf` in their own directory) and a FIFO: each file
    /// is read once (26 reads, not 25⁴), and the FIFO neither blocks nor counts.
    #[test]
    fn self_including_globs_read_each_file_once() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        std::fs::create_dir_all(dir.join("pool.d")).expect("dir");
        for i in 0..25 {
            let text = format!("[pool{i}]\ninclude={}/pool.d/*.conf\n", dir.display());
            std::fs::write(dir.join(format!("pool.d/p{i:02}.conf")), text).expect("w");
        }
        nix::unistd::mkfifo(&dir.join("pool.d/fifo.conf"), nix::sys::stat::Mode::from_bits_truncate(0o600))
            .expect("mkfifo");
        let main = dir.join("php-fpm.conf");
        std::fs::write(&main, format!("[global]\ninclude={}/pool.d/*.conf\n", dir.display())).expect("w");
        let mut walk = Walk::default();
        walk.collect(&main, Path::new("/nonexistent"), 0);
        assert_eq!(walk.pools.len(), 25);
        assert_eq!(walk.visited.len(), 27, "main, 25 pools and the FIFO (seen once, not read)");
    }
}
