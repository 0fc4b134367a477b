//! ddboot: resolve the Datadog Agent's address on Amazon ECS, export it with the unified service
//! tags, then `execve` the app so it keeps ddboot's PID.
//!
//! The flow is linear and each stage lives in its own module: [`cli`] parses flags, [`config`]
//! validates them with the environment, [`resolve`] runs the [`source`]s under one deadline,
//! [`plan`] turns config and findings into environment changes and argv (pure), [`report`]
//! renders what is printed, and [`exec`] replaces the process. [`run`] strings them together.

pub mod cli;
pub mod config;
pub mod duration;
pub mod environ;
pub mod error;
pub mod exec;
pub(crate) mod file;
pub mod http;
pub mod inject;
pub mod install;
pub mod output;
pub mod plan;
pub mod report;
pub mod resolve;
pub mod source;

use std::time::Instant;

use clap::Parser;

use crate::config::{Config, Mode};
use crate::environ::Environ;
use crate::error::Error;
use crate::output::{Written, diag};

/// Runs ddboot with `args` (argv, `argv[0]` included) and this process's environment. Returns
/// the exit code when it does not exec (a debug mode, or an error); on a successful exec it never
/// returns.
pub fn run(args: Vec<std::ffi::OsString>) -> i32 {
    let started = Instant::now();
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
    config.ignored.iter().for_each(|i| diag(&i.warning()));
    let findings = resolve::resolve(config, env, started);
    let cwd = std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from("/"));
    let mut tracer = inject::probe(config.inject, config.java_agent.as_deref(), &config.command, env, &cwd);
    let mut plan = plan::plan(config, env, &findings, &tracer);
    if let Mode::Explain { json } = config.mode {
        let text = if json {
            format!("{}\n", report::explain_json(&findings, &plan, &tracer))
        } else {
            report::explain_text(&findings, &plan, &tracer)
        };
        return Ok(match output::stdout(&text)? {
            Written::ReaderGone => 0,
            Written::All => i32::from(findings.resolved.is_none()),
        });
    }
    // --print-env and the exec: the same status line or warning, the same --strict exit.
    match report::status_line(&findings) {
        Some(line) if !config.quiet && config.mode == Mode::Run => diag(&line),
        Some(_) => {}
        None => {
            report::unresolved_warning(&findings, config.strict).iter().for_each(|l| diag(l));
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
        diag(&format!("ddboot: warning: {e}; PHP-FPM workers get only the INI settings"));
        tracer = tracer.without_files();
        plan = plan::plan(config, env, &findings, &tracer);
    }
    Err(exec::exec(&plan.argv, &plan.child_env(env)))
}

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
