//! ddboot: resolve the Datadog Agent's address on Amazon ECS, export it with the unified service
//! tags, then `execve` the app so it keeps ddboot's PID.
//!
//! The flow is one way, and [`run`] is that line, step by step: `cli` parses flags, `config`
//! checks them with the environment, `resolve` runs the `source`s under one deadline, `inject`
//! probes PROGRAM for a tracer, `plan::exports` computes the Agent's address and the service
//! tags, the status line is announced (`--strict` stops here), `effects` writes the files a
//! tracer needs (the PHP-FPM overlay, the only write before the app starts), `plan` turns all of
//! it into the app's argv and environment (pure, once), `report` renders what is printed, and
//! `exec` replaces the process (or, under `--init`, `init` forks and stays as PID 1). Each
//! module uses only modules before it in this line, and the ones below all of them: `environ`,
//! `error`, `output`, `file`, `duration`, `http`, and `signals` (ddboot's own dispositions, from
//! the first instruction until `exec` restores the inherited ones). `install` (`--install`, which
//! copies the binary and stops) stands apart and uses only `file`.

pub(crate) mod cli;
pub(crate) mod config;
pub(crate) mod duration;
mod effects;
pub(crate) mod environ;
pub(crate) mod error;
pub(crate) mod exec;
pub(crate) mod file;
pub(crate) mod http;
mod init;
pub(crate) mod inject;
pub(crate) mod install;
pub(crate) mod output;
pub(crate) mod plan;
pub(crate) mod report;
pub(crate) mod resolve;
mod signals;
pub(crate) mod source;

/// What the fuzz targets (`fuzz/`) call, and nothing more: the parsers of values from outside
/// and the HTTP client (with its loopback test peer under the `loopback-peer` feature).
/// `tests/examples.rs` also checks the example task definitions' images with `is_agent_image`. Every
/// module above is private to the crate; this is not an API (hidden from the docs, no stability
/// promise).
#[doc(hidden)]
pub mod fuzz {
    pub mod duration {
        pub use crate::duration::{MAX, parse, split_unit};
    }
    pub mod output {
        pub use crate::output::{escape, escape_bytes};
    }
    pub mod http {
        #[cfg(feature = "loopback-peer")]
        pub use crate::http::peer;
        pub use crate::http::{Endpoint, Failure, Response, request};
    }
    pub mod source {
        pub use crate::source::{parse_ipv4, parse_ipv6};
        pub mod gateway {
            pub use crate::source::gateway::parse_default_gateway;
        }
        pub mod metadata_file {
            pub use crate::source::metadata_file::{MetadataFile, parse};
        }
        pub mod task_metadata {
            pub use crate::source::task_metadata::{
                Container, Task, TaskContainer, TaskMetadata, image_tag, is_agent_image, parse_container,
                parse_task,
            };
        }
    }
}

use std::time::Instant;

use clap::Parser;

use crate::config::{AppMode, Config, Format, Mode};
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

/// The pipeline, one way: resolve, probe the tracer, announce, write the tracer's files, plan
/// once, then report or start the app.
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
    let tracer = inject::probe(config.inject, config.java_agent.as_deref(), &config.command, env, &cwd);
    let exports = plan::exports(config, env, &findings);
    announce(config, &findings)?;
    let written = effects::write_files(tracer, &exports.child_env(env), &config.mode);
    let plan = plan::plan(&config.command, env, exports, &written.tracer);
    match config.mode {
        Mode::Explain(format) => explain(config, &findings, &plan, &written.tracer, format),
        Mode::PrintEnv => {
            output::stdout(&report::print_env(&plan))?;
            Ok(0)
        }
        Mode::Run | Mode::Install(_) => {
            written.tracer.warning().iter().chain(&written.warning).for_each(|w| diag(w));
            drop((written, findings));
            start(config.app_mode, plan, env)
        }
    }
}

/// The status line or the unresolved warning (`--print-env`, the start); under `--strict`, an
/// unresolved host ends here with 69. `--explain` reports instead.
fn announce(config: &Config, findings: &resolve::Findings) -> Result<(), Error> {
    match (&config.mode, report::status_line(findings, config.app_mode)) {
        (Mode::Explain(_) | Mode::Install(_), _) => return Ok(()),
        (Mode::Run, Some(line)) if !config.quiet => diag(&line),
        (_, Some(_)) => {}
        (Mode::PrintEnv, None) => {
            report::unresolved_print_env_warning(findings, config).iter().for_each(|l| diag(l));
        }
        (Mode::Run, None) => report::unresolved_warning(findings, config).iter().for_each(|l| diag(l)),
    }
    match findings.resolved {
        None if config.strict => {
            Err(Error::Unresolved("no Datadog Agent host (--strict): exiting 69".into()))
        }
        _ => Ok(()),
    }
}

/// The `--explain` report; exits 1 when no host was resolved.
fn explain(
    config: &Config,
    findings: &resolve::Findings,
    plan: &plan::Plan,
    tracer: &inject::Probe,
    format: Format,
) -> Result<i32, Error> {
    let text = report::explain(format, findings, plan, tracer, config, std::process::id());
    Ok(match output::stdout(&text)? {
        Written::ReaderGone => 0,
        Written::All => i32::from(findings.resolved.is_none()),
    })
}

/// Execs the app, or under `--init` forks it and stays as its init.
fn start(app_mode: AppMode, plan: plan::Plan, env: &Environ) -> Result<i32, Error> {
    let target = match app_mode {
        AppMode::Exec => return Err(exec::exec(&plan.argv, &plan.child_env(env))),
        AppMode::Init => init::Target::Process,
        AppMode::InitGroup => init::Target::Group,
    };
    // Init mode: everything is printed and the resolution runtime is gone; fork from here.
    let prepared = exec::Prepared::new(&plan.argv, &plan.child_env(env))?;
    drop(plan);
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
