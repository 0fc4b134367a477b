//! "Already injected": the marks Datadog's own injectors leave on a process, so ddboot never
//! loads a second tracer on top of theirs.
//!
//! This module owns the checks that hold for every runtime but PHP (whose changes only pass the
//! variables to PHP-FPM's workers, which any tracer needs): Single Step Instrumentation's
//! launcher in `LD_PRELOAD` or in `/etc/ld.so.preload` (read bounded, non-blocking, regular files
//! only), and `DD_INJECT_SENDER_TYPE`, which SSI sets. It also owns the per-runtime forms that
//! live in option variables: ddtrace's bootstrap or `/datadog-lib` in `PYTHONPATH`,
//! `dd-trace/init` required through `NODE_OPTIONS` (`--require`, `-r`, `--import`, joined or
//! not), a `-javaagent:` naming a `dd-java-agent*.jar`, and a `RUBYOPT` `-r` of Datadog's Ruby
//! auto-instrumentation. Each check returns the sentence the report shows, naming the mechanism.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::environ::Environ;

/// Where the dynamic loader reads its system-wide preload list (SSI's host install writes it).
pub(super) const LD_SO_PRELOAD: &str = "/etc/ld.so.preload";
/// The most of `/etc/ld.so.preload` that is read.
const MAX_PRELOAD_FILE: u64 = 64 * 1024;

/// Whether an `LD_PRELOAD` entry is SSI's launcher.
fn is_ssi_launcher(entry: &str) -> bool {
    entry.contains("datadog-apm-inject") || entry.ends_with("/launcher.preload.so")
}

/// The marks of an injector that covers every runtime: SSI.
pub(super) fn everywhere(env: &Environ, ld_so_preload: &Path) -> Option<String> {
    let split = |text: &str| -> Option<String> {
        text.split(|c: char| c == ':' || c.is_whitespace()).find(|e| is_ssi_launcher(e)).map(str::to_string)
    };
    if let Some(entry) = env.get_str("LD_PRELOAD").and_then(split) {
        return Some(format!(
            "already injected by Single Step Instrumentation: LD_PRELOAD names {}",
            entry.escape_debug()
        ));
    }
    if let Some(entry) = read_preload_file(ld_so_preload).as_deref().and_then(split) {
        return Some(format!(
            "already injected by Single Step Instrumentation: {} names {}",
            ld_so_preload.display().to_string().escape_debug(),
            entry.escape_debug()
        ));
    }
    if let Some(sender) = env.non_empty("DD_INJECT_SENDER_TYPE") {
        return Some(format!(
            "already injected by Single Step Instrumentation: DD_INJECT_SENDER_TYPE={} is set",
            sender.escape_debug()
        ));
    }
    None
}

/// `/etc/ld.so.preload` (or the test's stand-in), when it is a regular file: opened
/// non-blocking (a FIFO there cannot hang ddboot), at most [`MAX_PRELOAD_FILE`] bytes.
fn read_preload_file(path: &Path) -> Option<String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(MAX_PRELOAD_FILE).read_to_end(&mut bytes).ok()?;
    // Comments run to the end of the line (ld.so(8)).
    let text = String::from_utf8_lossy(&bytes);
    Some(text.lines().map(|l| l.split('#').next().unwrap_or("")).collect::<Vec<_>>().join("\n"))
}

/// Python: ddtrace's bootstrap directory (what ddtrace-run and serverless-init add) or the
/// admission controller's `/datadog-lib` in `PYTHONPATH`.
pub(super) fn python(env: &Environ) -> Option<String> {
    let path = env.get("PYTHONPATH")?;
    std::env::split_paths(path).find_map(|entry| {
        let text = entry.to_string_lossy();
        let trimmed = text.trim_end_matches('/');
        let bootstrap = trimmed.ends_with("ddtrace/bootstrap");
        let datadog_lib = trimmed == "/datadog-lib" || trimmed.starts_with("/datadog-lib/");
        (bootstrap || datadog_lib)
            .then(|| format!("already injected: PYTHONPATH contains {}", text.escape_debug()))
    })
}

/// Node.js: `dd-trace/init` (or `dd-trace/initialize.mjs`, `dd-trace/loader-hook.mjs`) required
/// through `--require`, `-r` or `--import` (`--require=X`, `-rX` too), in `NODE_OPTIONS` or argv.
pub(super) fn node(env: &Environ, argv: &[String]) -> Option<String> {
    let options = env.get_str("NODE_OPTIONS").map(node_words).unwrap_or_default();
    for (words, place) in [(&options, "NODE_OPTIONS"), (&argv.to_vec(), "the command line")] {
        if let Some(module) =
            required(words, &["--require", "-r", "--import", "--loader"]).find(|m| is_dd_trace(m))
        {
            return Some(format!("already injected: {place} requires {}", module.escape_debug()));
        }
    }
    None
}

/// Splits `NODE_OPTIONS` as Node does: on whitespace, except inside double quotes, where a
/// backslash escapes the next character.
fn node_words(options: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut escaped, mut started) = (false, false, false);
    for c in options.chars() {
        if escaped {
            word.push(c);
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
            started = true;
        } else if c.is_whitespace() && !quoted {
            if started || !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            started = false;
        } else {
            word.push(c);
        }
    }
    if started || !word.is_empty() {
        words.push(word);
    }
    words
}

fn is_dd_trace(module: &str) -> bool {
    ["dd-trace/init", "dd-trace/initialize", "dd-trace/loader-hook"].iter().any(|m| module.contains(m))
}

/// The values of `flags` in `words`: `FLAG VALUE`, `FLAG=VALUE` (long flags) and `-rVALUE`
/// (short ones).
fn required<'a>(words: &'a [String], flags: &'a [&'a str]) -> impl Iterator<Item = &'a str> + 'a {
    words.iter().enumerate().filter_map(move |(i, w)| {
        flags.iter().find_map(|flag| {
            if w == flag {
                words.get(i + 1).map(String::as_str)
            } else if flag.starts_with("--") {
                w.strip_prefix(flag).and_then(|rest| rest.strip_prefix('='))
            } else {
                w.strip_prefix(flag).filter(|rest| !rest.is_empty())
            }
        })
    })
}

/// Java: a `-javaagent:` naming any `dd-java-agent*.jar`, in `JAVA_TOOL_OPTIONS`,
/// `JDK_JAVA_OPTIONS`, `_JAVA_OPTIONS` (HotSpot reads it too) or argv.
pub(super) fn java(env: &Environ, argv: &[String]) -> Option<String> {
    let is_agent = |w: &str| {
        w.strip_prefix("-javaagent:").is_some_and(|jar| {
            let jar = jar.split('=').next().unwrap_or(jar);
            let name = jar.rsplit('/').next().unwrap_or(jar);
            name.starts_with("dd-java-agent") && name.ends_with(".jar")
        })
    };
    for name in ["JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"] {
        if let Some(w) = env.get_str(name).and_then(|o| o.split_whitespace().find(|w| is_agent(w))) {
            return Some(format!("already injected: {name} has {}", w.escape_debug()));
        }
    }
    argv.iter()
        .find(|w| is_agent(w))
        .map(|w| format!("already injected: the command line has {}", w.escape_debug()))
}

/// Ruby: `RUBYOPT` (or argv) requiring Datadog's auto-instrumentation: the gem's
/// `datadog/auto_instrument` (or the older `ddtrace/auto_instrument`), or the injectors'
/// `auto_inject`.
pub(super) fn ruby(env: &Environ, argv: &[String]) -> Option<String> {
    let is_datadog = |m: &str| {
        ["datadog/auto_instrument", "ddtrace/auto_instrument", "auto_inject"].iter().any(|n| m.contains(n))
    };
    let options: Vec<String> = env
        .get_str("RUBYOPT")
        .map(|o| o.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    for (words, place) in [(&options, "RUBYOPT"), (&argv.to_vec(), "the command line")] {
        if let Some(module) = required(words, &["-r", "--require"]).find(|m| is_datadog(m)) {
            return Some(format!("already injected: {place} requires {}", module.escape_debug()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environ {
        Environ::from_pairs(pairs.iter().copied())
    }

    fn words(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    const LAUNCHER: &str = "/opt/datadog-packages/datadog-apm-inject/stable/inject/launcher.preload.so";

    #[test]
    fn ssi_in_ld_preload_or_the_sender_type() {
        let none = Path::new("/nonexistent/ld.so.preload");
        let why = everywhere(&env(&[("LD_PRELOAD", &format!("/lib/x.so:{LAUNCHER}"))]), none).expect("ssi");
        assert!(why.contains("LD_PRELOAD") && why.contains("launcher.preload.so"), "{why}");
        let why = everywhere(&env(&[("DD_INJECT_SENDER_TYPE", "k8s")]), none).expect("sender");
        assert!(why.contains("DD_INJECT_SENDER_TYPE=k8s"), "{why}");
        assert_eq!(everywhere(&env(&[("LD_PRELOAD", "/usr/lib/libjemalloc.so")]), none), None);
        assert_eq!(everywhere(&env(&[("DD_INJECT_SENDER_TYPE", "")]), none), None);
    }

    #[test]
    fn ssi_in_the_preload_file_but_not_in_a_comment_or_a_fifo() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        let file = dir.join("ld.so.preload");
        std::fs::write(&file, format!("/usr/lib/libfoo.so\n{LAUNCHER}\n")).expect("write");
        let why = everywhere(&Environ::default(), &file).expect("file");
        assert!(why.contains(&file.display().to_string()), "{why}");
        std::fs::write(&file, format!("# {LAUNCHER}\n/usr/lib/libfoo.so\n")).expect("write");
        assert_eq!(everywhere(&Environ::default(), &file), None);
        let fifo = dir.join("fifo");
        let _ = std::fs::remove_file(&fifo);
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        assert_eq!(everywhere(&Environ::default(), &fifo), None, "a FIFO is not read (nor waited on)");
    }

    #[test]
    fn python_forms() {
        for value in
            ["/datadog-lib/", "/datadog-lib", "/app:/venv/lib/python3.11/site-packages/ddtrace/bootstrap"]
        {
            assert!(python(&env(&[("PYTHONPATH", value)])).is_some(), "{value}");
        }
        for value in ["/app", "/dd_tracer/python/", "/datadog-libs"] {
            assert_eq!(python(&env(&[("PYTHONPATH", value)])), None, "{value}");
        }
    }

    #[test]
    fn node_forms() {
        for options in [
            "--require=/datadog-lib/node_modules/dd-trace/init",
            "--require dd-trace/init",
            "-r dd-trace/init",
            "-r/app/node_modules/dd-trace/init.js",
            "--max-old-space-size=512 --import dd-trace/initialize.mjs",
            "--import=dd-trace/initialize.mjs",
            "--loader dd-trace/loader-hook.mjs",
            "--require \"/my app/node_modules/dd-trace/init.js\"",
        ] {
            assert!(node(&env(&[("NODE_OPTIONS", options)]), &[]).is_some(), "{options}");
        }
        assert!(node(&Environ::default(), &words(&["node", "-r", "dd-trace/init", "a.js"])).is_some());
        assert!(node(&Environ::default(), &words(&["node", "--import=dd-trace/initialize.mjs"])).is_some());
        assert_eq!(
            node(&env(&[("NODE_OPTIONS", "--require ./tracing.js")]), &words(&["node", "dd-trace/init.js"])),
            None
        );
    }

    #[test]
    fn java_forms() {
        for options in [
            "-javaagent:/datadog-lib/dd-java-agent.jar",
            "-Xmx1g -javaagent:/dd_tracer/java/dd-java-agent-1.42.0.jar",
            "-javaagent:/opt/dd-java-agent.jar=opt",
        ] {
            assert!(java(&env(&[("JAVA_TOOL_OPTIONS", options)]), &[]).is_some(), "{options}");
            assert!(java(&env(&[("JDK_JAVA_OPTIONS", options)]), &[]).is_some(), "{options}");
        }
        assert!(
            java(&Environ::default(), &words(&["java", "-javaagent:/a/dd-java-agent.jar", "-jar", "x"]))
                .is_some()
        );
        assert_eq!(java(&env(&[("JAVA_TOOL_OPTIONS", "-javaagent:/opt/other-agent.jar")]), &[]), None);
    }

    #[test]
    fn ruby_forms() {
        for options in [
            "-r/datadog-lib/auto_inject",
            "-rdatadog/auto_instrument",
            "-W0 -r /usr/local/bundle/gems/datadog-2.3.0/lib/datadog/auto_instrument",
            "-rddtrace/auto_instrument",
        ] {
            assert!(ruby(&env(&[("RUBYOPT", options)]), &[]).is_some(), "{options}");
        }
        assert!(
            ruby(&Environ::default(), &words(&["ruby", "-rdatadog/auto_instrument", "app.rb"])).is_some()
        );
        assert_eq!(ruby(&env(&[("RUBYOPT", "-rbundler/setup -W0")]), &[]), None);
    }
}
