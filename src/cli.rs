//! The command line as clap parses it, before any validation.
//!
//! This module only describes flags and arguments. Turning them, together with the `DDBOOT_*`
//! and AWS variables of the environment, into a checked [`crate::config::Config`] is the job of
//! the config module, so every rule about what a value may be lives in one place.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser};

/// Resolve the Datadog Agent's address on Amazon ECS, export it, then exec PROGRAM.
#[derive(Debug, Parser)]
#[command(
    name = "ddboot",
    version,
    about = "Resolve the Datadog Agent's address on Amazon ECS, export DD_AGENT_HOST and the \
             unified service tags, then exec PROGRAM (which keeps ddboot's PID).",
    override_usage = "ddboot [OPTIONS] [--] PROGRAM [ARGS]...\n       ddboot --explain [--json] [-- PROGRAM [ARGS]...]\n       ddboot --print-env\n       ddboot --install DIR",
    after_help = "Environment: DDBOOT_TIMEOUT, DDBOOT_STRICT, DDBOOT_QUIET, DDBOOT_SOCKET_DIR, DDBOOT_INJECT, \
                  DDBOOT_JAVA_AGENT, DDBOOT_INIT, DDBOOT_INIT_GROUP, ECS_CONTAINER_METADATA_FILE, \
                  ECS_CONTAINER_METADATA_URI_V4, AWS_EC2_METADATA_SERVICE_ENDPOINT, \
                  AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE, AWS_EC2_METADATA_DISABLED, \
                  AWS_EC2_METADATA_V1_DISABLED, AWS_EXECUTION_ENV. Flags win over variables."
)]
pub(crate) struct Cli {
    /// Global deadline for every lookup, e.g. 500ms or 2s [env: DDBOOT_TIMEOUT] [default: 1s]
    #[arg(long, value_name = "DURATION")]
    pub(crate) timeout: Option<String>,

    /// Exit 69 instead of starting the app when no agent host is found [env: DDBOOT_STRICT]
    #[arg(long)]
    pub(crate) strict: bool,

    /// Do not print the line that reports the resolved host [env: DDBOOT_QUIET]
    #[arg(short, long)]
    pub(crate) quiet: bool,

    /// ECS container metadata file [env: ECS_CONTAINER_METADATA_FILE]
    #[arg(long, value_name = "PATH")]
    pub(crate) metadata_file: Option<PathBuf>,

    /// EC2 instance metadata endpoint [env: AWS_EC2_METADATA_SERVICE_ENDPOINT] [default: http://169.254.169.254]
    #[arg(long, value_name = "URL")]
    pub(crate) imds_endpoint: Option<String>,

    /// ECS task metadata endpoint v4 [env: ECS_CONTAINER_METADATA_URI_V4]
    #[arg(long, value_name = "URL")]
    pub(crate) task_metadata_uri: Option<String>,

    /// Directory holding the Agent's apm.socket and dsd.socket [env: DDBOOT_SOCKET_DIR] [default: /var/run/datadog]
    #[arg(long, value_name = "DIR")]
    pub(crate) socket_dir: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) tags: TagFlags,

    /// Load the Datadog tracer: off, auto, python, node, java, dotnet, php, ruby [env: DDBOOT_INJECT] [default: off]
    #[arg(long, value_name = "MODE")]
    pub(crate) inject: Option<String>,

    /// The dd-java-agent.jar to load with --inject (java) [env: DDBOOT_JAVA_AGENT]
    #[arg(long, value_name = "JAR")]
    pub(crate) java_agent: Option<PathBuf>,

    /// Copy this executable to DIR/ddboot (atomically, mode 0755) and exit: for init containers
    #[arg(long, value_name = "DIR", conflicts_with_all = ["explain", "print_env", "command"])]
    pub(crate) install: Option<PathBuf>,

    /// Stay as PID 1: fork, forward signals to the app, reap zombies, exit as the app did [env: DDBOOT_INIT]
    #[arg(long)]
    pub(crate) init: bool,

    /// Like --init, but forward signals to the app's whole process group [env: DDBOOT_INIT_GROUP]
    #[arg(long)]
    pub(crate) init_group: bool,

    /// Print what ddboot found and would do, then exit (0 resolved, 1 not); runs nothing
    #[arg(long)]
    pub(crate) explain: bool,

    /// With --explain: print one JSON object instead of the report
    #[arg(long, requires = "explain")]
    pub(crate) json: bool,

    /// Print `export`/`unset` lines for `eval "$(ddboot --print-env)"`, then exit
    #[arg(long, conflicts_with = "explain")]
    pub(crate) print_env: bool,

    /// The program to run and its arguments, passed through byte for byte
    #[arg(
        value_name = "PROGRAM",
        trailing_var_arg = true,
        value_parser = clap::value_parser!(OsString)
    )]
    pub(crate) command: Vec<OsString>,
}

/// Values given by --dd-env, --dd-service, --dd-version: the unified service tags as one unit,
/// which the config keeps as is (`Config::tags`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub(crate) struct TagFlags {
    /// Export DD_ENV (wins over an inherited value)
    #[arg(id = "dd_env", long = "dd-env", value_name = "ENV")]
    pub(crate) env: Option<String>,

    /// Export DD_SERVICE (wins over an inherited value)
    #[arg(id = "dd_service", long = "dd-service", value_name = "SERVICE")]
    pub(crate) service: Option<String>,

    /// Export DD_VERSION (wins over an inherited value)
    #[arg(id = "dd_version", long = "dd-version", value_name = "VERSION")]
    pub(crate) version: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn everything_after_the_program_belongs_to_it() {
        let cli =
            Cli::try_parse_from(["ddboot", "-q", "python", "-q", "--strict", "--", "x"]).expect("parses");
        assert!(cli.quiet);
        assert!(!cli.strict);
        assert_eq!(cli.command, ["python", "-q", "--strict", "--", "x"]);
        let cli = Cli::try_parse_from(["ddboot", "--", "--weird-name", ""]).expect("parses");
        assert_eq!(cli.command, ["--weird-name", ""]);
    }
}
