//! ddboot: resolve the Datadog Agent's address on Amazon ECS, export it with the unified service
//! tags, then `execve` the app so it keeps ddboot's PID.
//!
//! The flow is linear and each stage lives in its own module: [`cli`] parses flags, [`config`]
//! validates them with the environment, [`resolve`] runs the [`source`]s under one deadline,
//! [`plan`] turns config and findings into environment changes and argv (pure), [`report`]
//! renders what is printed, and [`exec`] replaces the process (or, under `--init`, `init` forks
//! and stays as PID 1). `signals` holds ddboot's own dispositions from the first instruction to
//! the exec. [`run`] strings them together.

pub mod cli;
pub mod config;
pub mod duration;
pub mod environ;
pub mod error;
pub mod exec;
pub(crate) mod file;
pub mod http;
mod init;
pub mod inject;
pub mod install;
pub mod output;
pub mod plan;
pub mod report;
pub mod resolve;
mod signals;
pub mod source;

use std::time::Instant;

use clap::Parser;

use crate::config::{AppMode, Config, Mode};
use crate::environ::Environ;
use crate::error::Error;
use crate::output::{Written, diag};

/// Runs ddboot with `args` (argv, `argv[0]` included) and this process's environment. Returns
/// the exit code when it does not exec (a debug mode, or an error); on a successful exec it never
/// returns.
pub fn run(args: Vec<std::ffi::OsString>) -> i32 {
    let started = Instant::now();
    // First: SIGTERM/SIGINT/SIGHUP end ddboot with 128+N until the exec, SIGPIPE is ignored.
    signals::install();
    let env = Environ::from_process();
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    match Config::new(cli, &env).and_then(|config| run_with(&config, &env, started)) {
        Ok(code) => code,
        Err(e) => {
            diag(&format!("ddboot: {e}"));
            e.exit_code()
        }
    }
}

/// Resolves, plans, then prints or execs.
fn run_with(config: &Config, env: &Environ, started: Instant) -> Result<i32, Error> {
    if let Mode::Install(dir) = &config.mode {
        let path = install::install(dir).map_err(Error::CantCreate)?;
        diag(&format!("ddboot: installed {}", path.display()));
        return Ok(0);
    }
    // PROGRAM first: when it is not there, fail at once, before any network request.
    if let (Mode::Run, Some(program)) = (&config.mode, config.command.first()) {
        exec::find_program(program, env)?;
    }
    config.ignored.iter().for_each(|i| diag(&i.warning()));
    let findings = resolve::resolve(config, env, started);
    let cwd = std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from("/"));
    let mut tracer = inject::probe(config.inject, config.java_agent.as_deref(), &config.command, env, &cwd);
    let mut plan = plan::plan(config, env, &findings, &tracer);
    if let Mode::Explain { json } = config.mode {
        // Predict the start exactly: the files it would write must be writable, or it falls back.
        if let Err(e) = plan.probe_files() {
            tracer = tracer.without_files_because(&format!("{e}; {FILES_FALLBACK}"));
            plan = plan::plan(config, env, &findings, &tracer);
        }
        let pid = std::process::id();
        let text = if json {
            let mut report = report::explain_json(&findings, &plan, &tracer);
            report["process"] = report::process_json(pid, config.app_mode);
            format!("{report}\n")
        } else {
            report::explain_text(&findings, &plan, &tracer) + &report::process_text(pid, config.app_mode)
        };
        return Ok(match output::stdout(&text)? {
            Written::ReaderGone => 0,
            Written::All => i32::from(findings.resolved.is_none()),
        });
    }
    // --print-env and the exec: the same status line or warning, the same --strict exit.
    let in_mode = match config.app_mode {
        AppMode::Exec => String::new(),
        mode => format!("; {} mode", mode.name()),
    };
    match report::status_line(&findings) {
        Some(line) if !config.quiet && config.mode == Mode::Run => diag(&format!("{line}{in_mode}")),
        Some(_) => {}
        None if config.mode == Mode::PrintEnv => {
            report::unresolved_print_env_warning(&findings, config.strict).iter().for_each(|l| diag(l));
            if config.strict {
                return Err(Error::Unresolved("no Datadog Agent host (--strict): exiting 69".into()));
            }
        }
        None => {
            let mut lines = report::unresolved_warning(&findings, config.strict);
            if let Some(summary) = lines.last_mut() {
                summary.push_str(&in_mode);
            }
            lines.iter().for_each(|l| diag(l));
            if config.strict {
                return Err(Error::Unresolved("no Datadog Agent host (--strict): exiting 69".into()));
            }
        }
    }
    if config.mode == Mode::PrintEnv {
        output::stdout(&report::print_env(&plan))?;
        return Ok(0);
    }
    if let Some(warning) = &tracer.warning {
        diag(warning);
    }
    if let Err(e) = plan.write_files() {
        diag(&format!("ddboot: warning: {e}; {FILES_FALLBACK}"));
        tracer = tracer.without_files();
        plan = plan::plan(config, env, &findings, &tracer);
    }
    let target = match config.app_mode {
        AppMode::Exec => return Err(exec::exec(&plan.argv, &plan.child_env(env))),
        AppMode::Init => init::Target::Process,
        AppMode::InitGroup => init::Target::Group,
    };
    // Init mode: everything is printed and the resolution runtime is gone; fork from here.
    let prepared = exec::Prepared::new(&plan.argv, &plan.child_env(env))?;
    drop((plan, tracer, findings));
    match init::run(&prepared, target) {
        init::Outcome::Exited(code) => Ok(code),
        init::Outcome::ExecFailed(e) => Err(e),
        // Fail-open: the app still starts, as exec mode would start it.
        init::Outcome::NoFork(why) => {
            diag(&format!("ddboot: warning: --init: {why}; running the app in exec mode instead"));
            Err(prepared.exec())
        }
    }
}

/// What the start does when the PHP-FPM overlay cannot be written (and `--explain` predicts).
const FILES_FALLBACK: &str = "PHP-FPM workers get only the INI settings";

/// Help and version go to stdout with 0; any other clap error is a one-line usage error (64).
fn clap_exit(e: &clap::Error) -> i32 {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => match output::stdout(&e.to_string()) {
            Ok(_) => 0,
            Err(e) => {
                diag(&format!("ddboot: {e}"));
                e.exit_code()
            }
        },
        _ => {
            // clap's message is a paragraph (sometimes over several lines), then tips and usage
            // after a blank line: keep the paragraph, on one line.
            let text = e.to_string();
            let message: Vec<&str> =
                text.lines().take_while(|l| !l.trim().is_empty()).map(str::trim).collect();
            let message = message.join(" ");
            let message = message.strip_prefix("error: ").unwrap_or(&message);
            diag(&format!("ddboot: {message} (see ddboot --help)"));
            Error::Usage(String::new()).exit_code()
        }
    }
}
