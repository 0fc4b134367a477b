//! The validated configuration: flags and environment variables merged into one checked value.
//!
//! Every rule about what an option may be lives here: flags win over variables, invalid values
//! are usage errors that name the flag or variable, and the AWS SDK conventions for the IMDS
//! endpoint (`AWS_EC2_METADATA_*`) are applied. Nothing here touches the network or the disk.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::Cli;
use crate::duration;
use crate::environ::Environ;
use crate::error::Error;
use crate::http::Endpoint;
use crate::inject;

/// The IMDS endpoint used when nothing overrides it.
pub const DEFAULT_IMDS_ENDPOINT: &str = "http://169.254.169.254";
/// The IMDS endpoint of `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`.
pub const IPV6_IMDS_ENDPOINT: &str = "http://[fd00:ec2::254]";
/// The default global deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Where the Datadog Agent puts its sockets by default.
pub const DEFAULT_SOCKET_DIR: &str = "/var/run/datadog";

/// What ddboot does once it knows the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Exec PROGRAM.
    Run,
    /// Print the report (text or JSON) and exit.
    Explain { json: bool },
    /// Print `export` / `unset` lines and exit.
    PrintEnv,
    /// Copy ddboot into this directory and exit.
    Install(PathBuf),
}

/// Whether and where to ask the EC2 instance metadata service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Imds {
    Enabled {
        endpoint: Endpoint,
        /// False under `AWS_EC2_METADATA_V1_DISABLED=true`: never send a token-less request.
        v1_allowed: bool,
        /// True when no endpoint or mode was configured (flag, `AWS_EC2_METADATA_SERVICE_ENDPOINT`,
        /// `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE`): the IPv6 endpoint may then be tried once
        /// when the default IPv4 one is unreachable.
        ipv6_fallback: bool,
    },
    /// IMDS is off; the string says why (for --explain).
    Disabled(String),
}

/// Values given by --dd-env, --dd-service, --dd-version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagFlags {
    pub env: Option<String>,
    pub service: Option<String>,
    pub version: Option<String>,
}

/// Everything ddboot was asked to do, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub mode: Mode,
    /// PROGRAM and its arguments, byte for byte; may be empty only in a debug mode.
    pub command: Vec<OsString>,
    pub timeout: Duration,
    pub strict: bool,
    pub quiet: bool,
    pub metadata_file: Option<PathBuf>,
    pub imds: Imds,
    pub task_metadata: Option<Endpoint>,
    pub socket_dir: PathBuf,
    pub tags: TagFlags,
    /// `--inject` / `DDBOOT_INJECT`.
    pub inject: inject::Mode,
    /// `--java-agent` / `DDBOOT_JAVA_AGENT`.
    pub java_agent: Option<PathBuf>,
    /// `--init` / `--init-group` (`DDBOOT_INIT`, `DDBOOT_INIT_GROUP`): how the app is run.
    pub app_mode: AppMode,
}

/// How ddboot runs the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppMode {
    /// `execve`: the app takes ddboot's PID (the default).
    Exec,
    /// `--init`: ddboot forks and stays as init; signals go to the app's process.
    Init,
    /// `--init-group`: as `Init`, signals go to the app's process group.
    InitGroup,
}

impl AppMode {
    pub fn name(self) -> &'static str {
        match self {
            AppMode::Exec => "exec",
            AppMode::Init => "init",
            AppMode::InitGroup => "init-group",
        }
    }
}

impl Config {
    /// Merges the parsed command line with the inherited environment and checks every value.
    pub fn new(cli: Cli, env: &Environ) -> Result<Config, Error> {
        let mode = if let Some(dir) = cli.install.clone() {
            Mode::Install(dir)
        } else if cli.explain {
            Mode::Explain { json: cli.json }
        } else if cli.print_env {
            Mode::PrintEnv
        } else {
            Mode::Run
        };
        if mode == Mode::Run && cli.command.is_empty() {
            return Err(Error::Usage(
                "no PROGRAM given (usage: ddboot [OPTIONS] [--] PROGRAM [ARGS]...; see --help)".into(),
            ));
        }

        let timeout = match (&cli.timeout, env.get_str("DDBOOT_TIMEOUT")) {
            (Some(flag), _) => duration::parse(flag).map_err(|e| usage("--timeout", &e))?,
            (None, Some(var)) if !var.trim().is_empty() => {
                duration::parse(var).map_err(|e| usage("DDBOOT_TIMEOUT", &e))?
            }
            _ => DEFAULT_TIMEOUT,
        };
        let strict = cli.strict || env_bool(env, "DDBOOT_STRICT", true)?.unwrap_or(false);

        let metadata_file = cli
            .metadata_file
            .or_else(|| env.get("ECS_CONTAINER_METADATA_FILE").filter(|v| !v.is_empty()).map(PathBuf::from));

        let task_metadata = match (&cli.task_metadata_uri, env.get_str("ECS_CONTAINER_METADATA_URI_V4")) {
            (Some(flag), _) => Some(Endpoint::parse(flag).map_err(|e| usage("--task-metadata-uri", &e))?),
            (None, Some(var)) if !var.trim().is_empty() => {
                Some(Endpoint::parse(var).map_err(|e| usage("ECS_CONTAINER_METADATA_URI_V4", &e))?)
            }
            _ => None,
        };

        let socket_dir = cli
            .socket_dir
            .or_else(|| env.get("DDBOOT_SOCKET_DIR").filter(|v| !v.is_empty()).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET_DIR));

        let inject = match (&cli.inject, env.get_str("DDBOOT_INJECT")) {
            (Some(flag), _) => inject::Mode::parse(flag).map_err(|e| usage("--inject", &e))?,
            (None, Some(var)) => inject::Mode::parse(var).map_err(|e| usage("DDBOOT_INJECT", &e))?,
            (None, None) => inject::Mode::Off,
        };
        let java_agent = cli
            .java_agent
            .or_else(|| env.get("DDBOOT_JAVA_AGENT").filter(|v| !v.is_empty()).map(PathBuf::from));

        // Each variable is checked even when a flag decides; --init-group implies --init.
        let init_var = env_bool(env, "DDBOOT_INIT", true)?.unwrap_or(false);
        let group_var = env_bool(env, "DDBOOT_INIT_GROUP", true)?.unwrap_or(false);
        let app_mode = if cli.init_group || (!cli.init && group_var) {
            AppMode::InitGroup
        } else if cli.init || init_var || group_var {
            AppMode::Init
        } else {
            AppMode::Exec
        };

        Ok(Config {
            mode,
            command: cli.command,
            timeout,
            strict,
            quiet: cli.quiet,
            metadata_file,
            imds: imds_config(cli.imds_endpoint.as_deref(), env)?,
            task_metadata,
            socket_dir,
            tags: TagFlags { env: cli.dd_env, service: cli.dd_service, version: cli.dd_version },
            inject,
            java_agent,
            app_mode,
        })
    }
}

/// Applies the AWS SDK conventions: the flag, then `AWS_EC2_METADATA_SERVICE_ENDPOINT`, then
/// `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE`; `AWS_EC2_METADATA_DISABLED=true` turns IMDS off
/// unless the endpoint was given on the command line. Every variable is checked, even one that
/// another setting overrides: a typo never hides until the day the override goes away.
fn imds_config(flag: Option<&str>, env: &Environ) -> Result<Imds, Error> {
    let v1_allowed = !env_bool(env, "AWS_EC2_METADATA_V1_DISABLED", false)?.unwrap_or(false);
    let disabled = env_bool(env, "AWS_EC2_METADATA_DISABLED", false)?.unwrap_or(false);
    let from_var = match env.get_str("AWS_EC2_METADATA_SERVICE_ENDPOINT").map(str::trim) {
        None | Some("") => None,
        Some(url) => Some(Endpoint::parse(url).map_err(|e| usage("AWS_EC2_METADATA_SERVICE_ENDPOINT", &e))?),
    };
    let by_mode = match env.get_str("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE").map(str::trim) {
        None | Some("") => DEFAULT_IMDS_ENDPOINT,
        Some(m) if m.eq_ignore_ascii_case("ipv4") => DEFAULT_IMDS_ENDPOINT,
        Some(m) if m.eq_ignore_ascii_case("ipv6") => IPV6_IMDS_ENDPOINT,
        Some(m) => {
            return Err(usage(
                "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
                &format!("{m:?} is not IPv4 or IPv6"),
            ));
        }
    };
    if env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE").is_some_and(|v| v.to_str().is_none()) {
        return Err(usage("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "not valid UTF-8"));
    }
    let mode_set =
        env.get_str("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE").is_some_and(|m| !m.trim().is_empty());
    let ipv6_fallback = flag.is_none() && from_var.is_none() && !mode_set;
    let endpoint = match flag {
        Some(url) => Endpoint::parse(url).map_err(|e| usage("--imds-endpoint", &e))?,
        None if disabled => return Ok(Imds::Disabled("AWS_EC2_METADATA_DISABLED=true".into())),
        None => match from_var {
            Some(endpoint) => endpoint,
            None => Endpoint::parse(by_mode).map_err(|e| usage("the default IMDS endpoint", &e))?,
        },
    };
    Ok(Imds::Enabled { endpoint, v1_allowed, ipv6_fallback })
}

/// Reads a boolean variable: `true`/`false` in any case (and `1`/`0` when `numeric` is set);
/// unset or empty is `None`; anything else is a usage error naming the variable.
fn env_bool(env: &Environ, name: &str, numeric: bool) -> Result<Option<bool>, Error> {
    let Some(raw) = env.get(name) else { return Ok(None) };
    let value = raw.to_str().map(str::trim).unwrap_or("\u{fffd}");
    match value {
        "" => Ok(None),
        v if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        v if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        "1" if numeric => Ok(Some(true)),
        "0" if numeric => Ok(Some(false)),
        v => Err(usage(name, &format!("{v:?} is not true or false"))),
    }
}

fn usage(what: &str, why: &str) -> Error {
    Error::Usage(format!("invalid {what}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(args: &[&str], env: &[(&str, &str)]) -> Result<Config, Error> {
        let cli = Cli::try_parse_from(std::iter::once("ddboot").chain(args.iter().copied()))
            .map_err(|e| Error::Usage(e.to_string()))?;
        Config::new(cli, &Environ::from_pairs(env.iter().copied()))
    }

    fn endpoint_of(c: &Config) -> String {
        match &c.imds {
            Imds::Enabled { endpoint, .. } => endpoint.to_string(),
            Imds::Disabled(why) => format!("disabled: {why}"),
        }
    }

    #[test]
    fn no_program_is_a_usage_error_unless_debugging() {
        assert_eq!(config(&[], &[]).map_err(|e| e.exit_code()), Err(64));
        assert!(config(&["--explain"], &[]).is_ok());
        assert!(config(&["--print-env"], &[]).is_ok());
    }

    #[test]
    fn timeout_flag_beats_variable_and_defaults_to_one_second() {
        assert_eq!(config(&["x"], &[]).map(|c| c.timeout), Ok(DEFAULT_TIMEOUT));
        let c = config(&["x"], &[("DDBOOT_TIMEOUT", "300ms")]).map(|c| c.timeout);
        assert_eq!(c, Ok(Duration::from_millis(300)));
        let c = config(&["--timeout", "2s", "x"], &[("DDBOOT_TIMEOUT", "300ms")]).map(|c| c.timeout);
        assert_eq!(c, Ok(Duration::from_secs(2)));
        let e = config(&["x"], &[("DDBOOT_TIMEOUT", "soon")]).unwrap_err();
        assert!(e.to_string().contains("DDBOOT_TIMEOUT"), "{e}");
        assert_eq!(e.exit_code(), 64);
    }

    #[test]
    fn strict_from_flag_or_variable() {
        assert_eq!(config(&["x"], &[]).map(|c| c.strict), Ok(false));
        assert_eq!(config(&["x"], &[("DDBOOT_STRICT", "TRUE")]).map(|c| c.strict), Ok(true));
        assert_eq!(config(&["x"], &[("DDBOOT_STRICT", "1")]).map(|c| c.strict), Ok(true));
        assert_eq!(config(&["--strict", "x"], &[("DDBOOT_STRICT", "false")]).map(|c| c.strict), Ok(true));
        let e = config(&["x"], &[("DDBOOT_STRICT", "maybe")]).unwrap_err();
        assert!(e.to_string().contains("DDBOOT_STRICT"));
    }

    #[test]
    fn imds_endpoint_follows_the_sdk_conventions() {
        let c = config(&["x"], &[]).expect("ok");
        assert_eq!(endpoint_of(&c), "http://169.254.169.254");
        let c = config(&["x"], &[("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "ipV6")]).expect("ok");
        assert_eq!(endpoint_of(&c), "http://[fd00:ec2::254]");
        let env = [
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9/"),
        ];
        assert_eq!(endpoint_of(&config(&["x"], &env).expect("ok")), "http://127.0.0.1:9");
        let c = config(&["--imds-endpoint", "http://127.0.0.2:8", "x"], &env).expect("ok");
        assert_eq!(endpoint_of(&c), "http://127.0.0.2:8");
        let c = config(&["x"], &[("AWS_EC2_METADATA_DISABLED", "True")]).expect("ok");
        assert_eq!(endpoint_of(&c), "disabled: AWS_EC2_METADATA_DISABLED=true");
    }

    #[test]
    fn invalid_aws_variables_are_usage_errors_naming_them() {
        for (name, value) in [
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv5"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "ftp://x"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://metadata.internal"),
            ("AWS_EC2_METADATA_DISABLED", "yes"),
            ("AWS_EC2_METADATA_V1_DISABLED", "1"),
            ("ECS_CONTAINER_METADATA_URI_V4", "not a url"),
        ] {
            let e = config(&["x"], &[(name, value)]).expect_err(name);
            assert_eq!(e.exit_code(), 64);
            assert!(e.to_string().contains(name), "{e}");
        }
    }

    #[test]
    fn inject_mode_from_flag_or_variable() {
        use crate::inject::{Mode, Runtime};
        assert_eq!(config(&["x"], &[]).map(|c| c.inject), Ok(Mode::Off));
        assert_eq!(config(&["x"], &[("DDBOOT_INJECT", "auto")]).map(|c| c.inject), Ok(Mode::Auto));
        let c = config(&["--inject", "java", "x"], &[("DDBOOT_INJECT", "auto")]).map(|c| c.inject);
        assert_eq!(c, Ok(Mode::Force(Runtime::Java)));
        let c = config(&["x"], &[("DDBOOT_INJECT", "Ruby")]).map(|c| c.inject);
        assert_eq!(c, Ok(Mode::Force(Runtime::Ruby)));
        let e = config(&["x"], &[("DDBOOT_INJECT", "perl")]).unwrap_err();
        assert!(e.to_string().contains("DDBOOT_INJECT"), "{e}");
        let c = config(&["x"], &[("DDBOOT_JAVA_AGENT", "/a.jar")]).map(|c| c.java_agent);
        assert_eq!(c, Ok(Some(PathBuf::from("/a.jar"))));
    }

    #[test]
    fn overridden_variables_are_still_checked() {
        for (name, value) in [
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv5"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "ftp://127.0.0.1:1"),
            ("AWS_EC2_METADATA_DISABLED", "1"),
        ] {
            let e =
                config(&["--imds-endpoint", "http://127.0.0.1:1", "x"], &[(name, value)]).expect_err(name);
            assert!(e.to_string().contains(name), "{e}");
            let env = [("AWS_EC2_METADATA_DISABLED", "true"), (name, value)];
            if name != "AWS_EC2_METADATA_DISABLED" {
                assert!(config(&["x"], &env).is_err(), "{name} with IMDS disabled");
            }
        }
    }

    #[test]
    fn init_mode_from_flags_or_variables() {
        let mode = |args: &[&str], env: &[(&str, &str)]| config(args, env).map(|c| c.app_mode);
        assert_eq!(mode(&["x"], &[]), Ok(AppMode::Exec));
        assert_eq!(mode(&["--init", "x"], &[]), Ok(AppMode::Init));
        assert_eq!(mode(&["--init-group", "x"], &[]), Ok(AppMode::InitGroup));
        assert_eq!(mode(&["x"], &[("DDBOOT_INIT", "true")]), Ok(AppMode::Init));
        assert_eq!(mode(&["x"], &[("DDBOOT_INIT", "0")]), Ok(AppMode::Exec));
        assert_eq!(mode(&["x"], &[("DDBOOT_INIT_GROUP", "1")]), Ok(AppMode::InitGroup));
        assert_eq!(
            mode(&["x"], &[("DDBOOT_INIT", "false"), ("DDBOOT_INIT_GROUP", "TRUE")]),
            Ok(AppMode::InitGroup)
        );
        // Flags win: --init chooses the process even when the variable asks for the group.
        assert_eq!(mode(&["--init", "x"], &[("DDBOOT_INIT_GROUP", "true")]), Ok(AppMode::Init));
        assert_eq!(mode(&["--init-group", "x"], &[("DDBOOT_INIT", "false")]), Ok(AppMode::InitGroup));
        for name in ["DDBOOT_INIT", "DDBOOT_INIT_GROUP"] {
            let e = config(&["--init", "x"], &[(name, "yes")]).unwrap_err();
            assert_eq!(e.exit_code(), 64);
            assert!(e.to_string().contains(name), "{e}");
        }
    }

    #[test]
    fn the_ipv6_fallback_only_without_a_configured_endpoint_or_mode() {
        let fallback = |args: &[&str], env: &[(&str, &str)]| match config(args, env).expect("ok").imds {
            Imds::Enabled { ipv6_fallback, .. } => ipv6_fallback,
            Imds::Disabled(_) => panic!("disabled"),
        };
        assert!(fallback(&["x"], &[]));
        assert!(fallback(&["x"], &[("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", " ")]));
        assert!(!fallback(&["--imds-endpoint", "http://127.0.0.1:1", "x"], &[]));
        assert!(!fallback(&["x"], &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1")]));
        assert!(!fallback(&["x"], &[("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv4")]));
        assert!(!fallback(&["x"], &[("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6")]));
    }

    #[test]
    fn v1_can_be_disabled() {
        let c = config(&["x"], &[("AWS_EC2_METADATA_V1_DISABLED", "true")]).expect("ok");
        assert!(matches!(c.imds, Imds::Enabled { v1_allowed: false, .. }));
    }

    #[test]
    fn paths_come_from_flags_or_variables() {
        let c = config(&["x"], &[("ECS_CONTAINER_METADATA_FILE", "/a"), ("DDBOOT_SOCKET_DIR", "/s")])
            .expect("ok");
        assert_eq!(c.metadata_file, Some(PathBuf::from("/a")));
        assert_eq!(c.socket_dir, PathBuf::from("/s"));
        let c =
            config(&["--metadata-file", "/b", "x"], &[("ECS_CONTAINER_METADATA_FILE", "/a")]).expect("ok");
        assert_eq!(c.metadata_file, Some(PathBuf::from("/b")));
        assert_eq!(c.socket_dir, PathBuf::from(DEFAULT_SOCKET_DIR));
    }
}
