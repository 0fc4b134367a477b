//! Tracer injection and the messages a user meets in a container, through the real binary:
//! the interpreter the user named decides which `ddtrace-run` is used (a venv's by absolute path
//! or shebang while it is not on `PATH`; a system Python next to a venv on `PATH` is left
//! unwrapped), every "already injected" mark of Datadog's own injectors (SSI's launcher in
//! `LD_PRELOAD` or the preload file, `DD_INJECT_SENDER_TYPE`, `PYTHONPATH`, `NODE_OPTIONS`,
//! `JAVA_TOOL_OPTIONS`, `CORECLR_PROFILER`, `RUBYOPT`), Ruby with Debian's `ruby` and a local
//! fake `datadog` gem, a PROGRAM that is not there (exit 127 before any network request, and the
//! `--` hint for one that looks like a flag), `--print-env` wording, and `--explain`'s prediction
//! of the PHP-FPM overlay fallback. Every run goes through the harness: loopback mocks only.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::*;

/// Writes an executable file.
fn exe(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
    std::fs::write(&path, text).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// A venv at `dir/name`: `bin/python` (a stand-in that prints `python <args>`), and
/// `bin/ddtrace-run` that prints `ddtrace-run <its own path>` then runs its arguments.
fn venv(dir: &TempDir, name: &str) -> PathBuf {
    let python = exe(dir, &format!("{name}/bin/python"), "#!/bin/sh\necho python \"$@\"\n");
    exe(dir, &format!("{name}/bin/ddtrace-run"), "#!/bin/sh\necho \"ddtrace-run $0\"\nexec \"$@\"\n");
    python
}

#[test]
fn a_venv_python_named_by_path_or_shebang_is_traced_while_not_on_path() {
    let dir = TempDir::new();
    let python = venv(&dir, "venv");
    let run = dir.join("venv/bin/ddtrace-run");
    let f = Ddboot::new().args(["-q", "--inject", "auto", "--"]).arg(&python).arg("app.py").run();
    f.assert_code(0);
    assert_eq!(f.stdout_text(), format!("ddtrace-run {}\npython app.py\n", run.display()), "{f:?}");
    let script = exe(&dir, "app/app.py", &format!("#!{}\n", python.display()));
    for mode in ["auto", "python"] {
        let f = Ddboot::new().args(["-q", "--inject", mode, "--"]).arg(&script).run();
        f.assert_code(0);
        assert!(f.stdout_text().starts_with(&format!("ddtrace-run {}\n", run.display())), "{mode}: {f:?}");
    }
}

#[test]
fn a_system_python_next_to_a_venv_on_path_is_left_unwrapped() {
    let dir = TempDir::new();
    venv(&dir, "venv");
    let system = exe(&dir, "usr/bin/python3", "#!/bin/sh\necho system \"$@\"\n");
    let path = format!("{}:{}", dir.join("venv/bin").display(), CHILD_PATH);
    let f = Ddboot::new()
        .env("PATH", &path)
        .args(["-q", "--inject", "auto", "--"])
        .arg(&system)
        .arg("app.py")
        .run();
    f.assert_code(0);
    assert_eq!(f.stdout_text(), "system app.py\n", "{f:?}");
    let warning =
        f.stderr_lines().into_iter().find(|l| l.contains("Python tracer not found")).expect("warning");
    assert!(warning.contains(&format!("interpreter {}", system.display())), "{warning}");
    assert!(warning.contains("starting the app without a tracer"), "{warning}");
}

#[test]
fn ddtrace_in_an_injector_directory_without_ddtrace_run_goes_into_pythonpath() {
    // /datadog-lib and /dd_tracer/python are fixed paths: the same rule is shown with ddtrace in
    // a PYTHONPATH directory (the unit tests cover the fixed paths' PYTHONPATH value).
    let dir = TempDir::new();
    let python = exe(&dir, "venv/bin/python", "#!/bin/sh\nexit 0\n");
    exe(&dir, "vendor/ddtrace/bootstrap/sitecustomize.py", "");
    let vendor = dir.join("vendor").display().to_string();
    let f = Ddboot::new()
        .env("PYTHONPATH", &vendor)
        .args(["--explain", "--json", "--inject", "auto", "--"])
        .arg(&python)
        .run();
    let j = f.json();
    let bootstrap = format!("{vendor}/ddtrace/bootstrap");
    assert_eq!(j["env"]["PYTHONPATH"], format!("{bootstrap}:{vendor}"), "{j:#}");
    assert_eq!(j["inject"]["tracer_path"], bootstrap, "{j:#}");
}

/// Every "already injected" form, each on a runtime it applies to: no tracer is added, and the
/// report names the mechanism.
#[test]
fn every_already_injected_form_is_respected() {
    const LAUNCHER: &str = "/opt/datadog-packages/datadog-apm-inject/stable/inject/launcher.preload.so";
    let dir = TempDir::new();
    let preload = dir.write("ld.so.preload", format!("# SSI\n{LAUNCHER}\n"));
    let preload = preload.display().to_string();
    /// (argv, the app's environment, the mechanism the report names)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case<'_>; 13] = [
        (&["python3", "app.py"], &[("LD_PRELOAD", LAUNCHER)], "LD_PRELOAD"),
        (&["node", "app.js"], &[("DDBOOT_LD_SO_PRELOAD", &preload)], "ld.so.preload"),
        (&["java", "-jar", "a.jar"], &[("DD_INJECT_SENDER_TYPE", "docker")], "DD_INJECT_SENDER_TYPE"),
        (&["python3", "app.py"], &[("PYTHONPATH", "/datadog-lib/")], "PYTHONPATH"),
        (&["python3", "app.py"], &[("PYTHONPATH", "/x/ddtrace/bootstrap:/app")], "PYTHONPATH"),
        (
            &["node", "app.js"],
            &[("NODE_OPTIONS", "--require=/datadog-lib/node_modules/dd-trace/init")],
            "NODE_OPTIONS",
        ),
        (&["node", "app.js"], &[("NODE_OPTIONS", "--import dd-trace/initialize.mjs")], "NODE_OPTIONS"),
        (&["node", "-r", "dd-trace/init", "app.js"], &[], "command line"),
        (
            &["java", "-jar", "a.jar"],
            &[("JAVA_TOOL_OPTIONS", "-javaagent:/datadog-lib/dd-java-agent.jar")],
            "JAVA_TOOL_OPTIONS",
        ),
        // HotSpot reads _JAVA_OPTIONS too: an agent there would be loaded twice.
        (
            &["java", "-jar", "a.jar"],
            &[("_JAVA_OPTIONS", "-javaagent:/opt/dd-java-agent.jar")],
            "_JAVA_OPTIONS",
        ),
        (
            &["dotnet", "a.dll"],
            &[("CORECLR_PROFILER", "{846F5F1C-F9AE-4B07-969E-05C26BC060D8}")],
            "CORECLR_PROFILER",
        ),
        (&["ruby", "app.rb"], &[("RUBYOPT", "-r/datadog-lib/auto_inject")], "RUBYOPT"),
        (&["ddtrace-run", "python3", "app.py"], &[], "ddtrace-run"),
    ];
    for (argv, env, mechanism) in cases {
        let mut d = Ddboot::new().args(["--explain", "--json", "--inject", "auto", "--"]).args(argv);
        for (k, v) in env {
            d = d.env(k, v);
        }
        let j = d.run().json();
        assert!(j["inject"]["tracer"].is_null(), "{argv:?} {env:?}: {j:#}");
        let skipped = j["inject"]["skipped"].as_str().unwrap_or_default();
        assert!(skipped.contains("already") && skipped.contains(mechanism), "{argv:?} {env:?}: {skipped}");
        for var in ["PYTHONPATH", "NODE_OPTIONS", "JAVA_TOOL_OPTIONS", "RUBYOPT", "CORECLR_ENABLE_PROFILING"]
        {
            assert!(j["env"].get(var).is_none(), "{argv:?}: {var} changed: {j:#}");
        }
        assert_eq!(j["command"], serde_json::json!(argv), "{argv:?}: command unchanged");
    }
    // The same preload file without the launcher, or a launcher only in a comment, is not SSI.
    let other = dir.write("other.preload", format!("/usr/lib/libjemalloc.so # {LAUNCHER}\n"));
    let j = Ddboot::new()
        .env("DDBOOT_LD_SO_PRELOAD", &other)
        .env("LD_PRELOAD", "/usr/lib/libjemalloc.so")
        .args(["--explain", "--json", "--inject", "auto", "--", "ruby", "app.rb"])
        .run()
        .json();
    assert!(!j["inject"]["skipped"].as_str().unwrap_or_default().contains("already"), "{j:#}");
}

/// A fake `datadog` gem whose auto_instrument prints a marker, in a GEM_HOME.
fn fake_gem(dir: &TempDir) -> PathBuf {
    let lib = dir.join("gems/gems/datadog-2.99.0/lib/datadog");
    std::fs::create_dir_all(&lib).expect("gem dirs");
    std::fs::write(lib.join("auto_instrument.rb"), "$stderr.puts 'fake datadog auto_instrument loaded'\n")
        .expect("gem file");
    dir.join("gems")
}

#[test]
fn ruby_starts_with_the_gem_found_on_disk_and_without_it() {
    assert!(
        Path::new("/usr/bin/ruby").exists(),
        "this test needs /usr/bin/ruby (apt-get install ruby; .ci/run installs it)"
    );
    let dir = TempDir::new();
    let gems = fake_gem(&dir);
    let app = dir.write("app.rb", "puts 'app ran'\n");
    let f =
        Ddboot::new().env("GEM_HOME", &gems).args(["-q", "--inject", "auto", "--", "ruby"]).arg(&app).run();
    f.assert_code(0);
    assert_eq!(f.stdout_text(), "app ran\n", "{f:?}");
    assert!(f.stderr.contains("fake datadog auto_instrument loaded"), "{f:?}");
    // Without the gem: a warning, and Ruby starts unchanged (no -r it could not resolve).
    let empty = TempDir::new();
    let f = Ddboot::new()
        .env("GEM_HOME", empty.path())
        .args(["-q", "--inject", "ruby", "--", "ruby"])
        .arg(&app)
        .run();
    f.assert_code(0);
    assert_eq!(f.stdout_text(), "app ran\n", "{f:?}");
    assert!(f.stderr.contains("Ruby tracer not found for the interpreter"), "{f:?}");
    assert!(!f.stderr.contains("LoadError"), "{f:?}");
}

#[test]
fn a_missing_program_exits_127_before_any_network_request() {
    let mock = start_mock(|_| {});
    let f = Ddboot::new().imds(&mock).args(["--", "ddboot-no-such-program", "x"]).run();
    f.assert_error(127);
    assert!(f.stderr.contains("ddboot-no-such-program: not found in PATH"), "{f:?}");
    let f = Ddboot::new().imds(&mock).args(["--", "/nonexistent/app"]).run();
    f.assert_error(127);
    assert_no_requests(&mock);
}

/// `ENTRYPOINT ["ddboot", "--"]` then `docker run IMAGE --explain`: the hint says where ddboot's
/// flags go and how to pass them with a fixed entrypoint, at once, without a resolution.
#[test]
fn a_flag_after_the_double_dash_gets_the_entrypoint_hint() {
    let mock = start_mock(|_| {});
    for flag in ["--explain", "--print-env", "-q"] {
        let f = Ddboot::new().imds(&mock).args(["--", flag]).run();
        f.assert_error(127);
        let line = f.stderr_lines()[0];
        assert!(line.starts_with(&format!("ddboot: {flag}: not found in PATH.")), "{line}");
        for part in ["go before `--`", "DDBOOT_", "--entrypoint", flag] {
            assert!(line.contains(part), "{flag}: {part} missing: {line}");
        }
    }
    assert_no_requests(&mock);
}

#[test]
fn print_env_and_explain_never_say_they_start_anything() {
    for args in [&["--print-env"][..], &["--print-env", "--strict"], &["--explain"], &["--explain", "--json"]]
    {
        let f = Ddboot::new().args(args).run();
        let all = format!("{}{}", f.stderr, f.stdout_text());
        assert!(!all.contains("starting") && !all.contains("start the app"), "{args:?}: {all}");
    }
    let f = Ddboot::new().arg("--print-env").run();
    assert!(f.stderr.contains("printing no DD_AGENT_HOST"), "{f:?}");
    let f = Ddboot::new().args(["--print-env", "--strict"]).run();
    f.assert_error_lines(69);
    assert!(f.stderr.contains("exiting 69 (--strict)"), "{f:?}");
}

/// A PHP-FPM configuration with one pool, and a `php-fpm8.2` stand-in that prints its argv.
fn fpm(dir: &TempDir) -> (PathBuf, String) {
    let conf = dir.write("php-fpm.conf", "[global]\n[www]\nlisten = 127.0.0.1:9000\n");
    exe(dir, "bin/php-fpm8.2", "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n");
    (conf, format!("{}:{CHILD_PATH}", dir.join("bin").display()))
}

#[test]
fn explain_predicts_the_php_overlay_and_its_fallback() {
    let dir = TempDir::new();
    let (conf, path) = fpm(&dir);
    let run = |tmp: &Path, explain: bool| {
        let mut d = Ddboot::new().env("PATH", &path).env("TMPDIR", tmp).env("DD_ENV", "prod");
        if explain {
            d = d.args(["--explain", "--json"]);
        } else {
            d = d.arg("-q");
        }
        d.args(["--inject", "auto", "--", "php-fpm8.2", "-F", "-y"]).arg(&conf).run()
    };
    // A TMPDIR where nothing can be created (a regular file): the start drops the overlay, and
    // --explain says so instead of promising it.
    let blocked = dir.write("not-a-dir", "");
    let j = run(&blocked, true).json();
    assert!(j["inject"]["files"].as_array().is_some_and(Vec::is_empty), "{j:#}");
    let note = j["inject"]["note"].as_str().unwrap_or_default();
    assert!(note.contains("cannot write") && note.contains("only the INI settings"), "{note}");
    let predicted: Vec<String> = j["command"]
        .as_array()
        .expect("command")
        .iter()
        .map(|a| a.as_str().unwrap_or_default().to_string())
        .collect();
    let started = run(&blocked, false);
    started.assert_code(0);
    assert!(started.stderr.contains("only the INI settings"), "{started:?}");
    let argv: Vec<String> = started.stdout_text().lines().map(str::to_string).collect();
    assert_eq!(argv, predicted[1..], "--explain predicted the start's argv");
    assert!(argv.contains(&conf.display().to_string()), "the user's own configuration: {argv:?}");

    // A writable TMPDIR: the overlay is promised, the probe leaves nothing behind, and the start
    // writes it where --explain said.
    let tmp = TempDir::new();
    let j = run(tmp.path(), true).json();
    let files = j["inject"]["files"].as_array().expect("files");
    assert_eq!(files.len(), 1, "{j:#}");
    let overlay = files[0]["path"].as_str().expect("path").to_string();
    assert!(std::fs::read_dir(tmp.path()).expect("tmp").next().is_none(), "--explain left files in TMPDIR");
    let started = run(tmp.path(), false);
    started.assert_code(0);
    let argv: Vec<String> = started.stdout_text().lines().map(str::to_string).collect();
    // Each start's overlay has a random name of its own (concurrent starts never share one), so
    // --explain predicts where it goes and its shape, not the name.
    let dir_of = |p: &str| Path::new(p).parent().map(Path::to_path_buf);
    let written = argv.iter().find(|a| a.ends_with(".conf") && dir_of(a) == dir_of(&overlay));
    let written = written.unwrap_or_else(|| panic!("{argv:?}: no overlay beside {overlay}"));
    let name =
        |p: &str| Path::new(p).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let shape =
        |n: &str| n.starts_with("php-fpm.") && n.ends_with(".conf") && n.len() == "php-fpm.".len() + 16 + 5;
    assert!(shape(&name(written)) && shape(&name(&overlay)), "{written} / {overlay}");
    assert!(Path::new(written).is_file(), "the start wrote {written}");
}

/// An option variable ddboot would append to (`JAVA_TOOL_OPTIONS`, `RUBYOPT`…) that is set but
/// not valid UTF-8 is never replaced by ddboot's option alone: the app gets it byte for byte,
/// and the report says why no tracer was added.
#[test]
fn an_option_variable_not_utf8_is_never_replaced() {
    use std::os::unix::ffi::OsStrExt;
    let dir = TempDir::new();
    let jar = dir.write("dd-java-agent.jar", "not a real jar");
    let gem = dir.join("gems/gems/datadog-2.3.0/lib/datadog");
    std::fs::create_dir_all(&gem).expect("gem dir");
    std::fs::write(gem.join("auto_instrument.rb"), "").expect("gem");
    let gem_home = dir.join("gems");
    let latin1 = std::ffi::OsStr::from_bytes(b"-Duser.home=/home/jos\xe9");
    let cases: [(&str, &str, &[&str]); 2] =
        [("JAVA_TOOL_OPTIONS", "java", &["java", "-jar", "a.jar"]), ("RUBYOPT", "ruby", &["ruby", "app.rb"])];
    for (var, runtime, argv) in cases {
        let base = || {
            Ddboot::new()
                .env(var, latin1)
                .env("GEM_HOME", &gem_home)
                .args(["--inject", runtime, "--java-agent"])
                .arg(&jar)
        };
        let j = base().args(["--explain", "--json", "--"]).args(argv).run().json();
        assert!(j["env"].get(var).is_none(), "{var} rewritten: {j:#}");
        let skipped = j["inject"]["skipped"].as_str().unwrap_or_default();
        assert!(skipped.contains(var) && skipped.contains("UTF-8"), "{var}: {j:#}");
        // The app itself gets the variable unchanged.
        let f = base().args(["-q", "--"]).args(ENV_DUMP).run();
        f.assert_code(0);
        let mut entry = format!("{var}=").into_bytes();
        entry.extend_from_slice(latin1.as_bytes());
        entry.push(0);
        assert!(contains_bytes(&f.stdout, &entry), "{var}: {f:?}");
    }
}

/// A tracer whose path is not valid UTF-8 cannot go into a text option variable (it would name a
/// file that does not exist, and a JVM, Ruby or Node.js given such a `-javaagent`, `-r` or
/// `--require` refuses to start): the app starts without it, and the report says why.
#[test]
fn a_tracer_path_not_utf8_is_not_injected() {
    use std::os::unix::ffi::OsStrExt;
    let dir = TempDir::new();
    let odd = dir.join(std::str::from_utf8(b"caf").expect("ascii")).into_os_string();
    let mut odd = odd.into_encoded_bytes();
    odd.push(0xe9);
    let odd = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&odd));
    let jar = odd.join("dd-java-agent.jar");
    let gem = odd.join("gems/datadog-2.3.0/lib/datadog");
    std::fs::create_dir_all(&gem).expect("dirs");
    std::fs::write(&jar, "not a real jar").expect("jar");
    std::fs::write(gem.join("auto_instrument.rb"), "").expect("gem");
    for (var, runtime) in [("JAVA_TOOL_OPTIONS", "java"), ("RUBYOPT", "ruby")] {
        let base =
            || Ddboot::new().env("GEM_HOME", &odd).args(["--inject", runtime, "--java-agent"]).arg(&jar);
        let j = base().args(["--explain", "--json", "--"]).args(ENV_DUMP).run().json();
        assert!(j["env"].get(var).is_none(), "{var} set: {j:#}");
        let skipped = j["inject"]["skipped"].as_str().unwrap_or_default();
        assert!(skipped.contains("UTF-8"), "{var}: {j:#}");
        let f = base().args(["-q", "--"]).args(ENV_DUMP).run();
        f.assert_code(0);
        assert!(!f.env().contains_key(var), "{var}: {f:?}");
    }
}
