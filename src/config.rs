//! The validated configuration: flags and environment variables merged into one checked value.
//!
//! Every rule about what an option may be lives here: flags win over variables, and the AWS SDK
//! conventions for the IMDS endpoint (`AWS_EC2_METADATA_*`) are applied. The rule for bad values
//! is here too, in one place: a bad value of ddboot's own flags and `DDBOOT_*` variables (not
//! valid UTF-8 included) is a usage error (exit 64); a bad value of a variable the platform or the
//! AWS SDKs own (`AWS_*`, `ECS_CONTAINER_METADATA_URI_V4`, `ECS_CONTAINER_METADATA_FILE`) is
//! [`Ignored`]: one warning naming it, only the source it configures is skipped (never a fall
//! back to a default endpoint), and the app still starts. Nothing here touches the network or the
//! disk.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::Cli;
pub(crate) use crate::cli::TagFlags;
use crate::duration;
use crate::environ::Environ;
use crate::error::Error;
use crate::http::Endpoint;
use crate::output::{clip, escape_bytes, quote};

/// The IMDS endpoint used when nothing overrides it.
pub(crate) const DEFAULT_IMDS_ENDPOINT: &str = "http://169.254.169.254";
/// The IMDS endpoint of `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`.
pub(crate) const IPV6_IMDS_ENDPOINT: &str = "http://[fd00:ec2::254]";
/// The default global deadline.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Where the Datadog Agent puts its sockets by default.
pub(crate) const DEFAULT_SOCKET_DIR: &str = "/var/run/datadog";

/// What ddboot does once it knows the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Exec PROGRAM.
    Run,
    /// Print the report (text or JSON) and exit.
    Explain(Format),
    /// Print `export` / `unset` lines and exit.
    PrintEnv,
    /// Copy ddboot into this directory and exit.
    Install(PathBuf),
}

/// How `--explain` prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// The text report.
    Text,
    /// `--json`: one JSON object.
    Json,
}

/// Whether and where to ask the EC2 instance metadata service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Imds {
    Enabled(ImdsAccess),
    /// IMDS is off; the string says why (for --explain).
    Disabled(String),
}

/// How to ask IMDS when it is enabled: what the `imds` source runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImdsAccess {
    pub(crate) endpoint: Endpoint,
    /// False under `AWS_EC2_METADATA_V1_DISABLED=true`: never send a token-less request.
    pub(crate) v1_allowed: bool,
    /// True when no endpoint or mode was configured (flag, `AWS_EC2_METADATA_SERVICE_ENDPOINT`,
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE`): the IPv6 endpoint may then be tried once
    /// when the default IPv4 one is unreachable.
    pub(crate) ipv6_fallback: bool,
}

/// What `--inject` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InjectMode {
    Off,
    Auto,
    Force(Runtime),
}

impl InjectMode {
    /// Parses `off`, `auto`, or a runtime's name (any case).
    pub(crate) fn parse(text: &str) -> Result<InjectMode, String> {
        let t = text.trim().to_ascii_lowercase();
        match t.as_str() {
            "off" | "" => Ok(InjectMode::Off),
            "auto" => Ok(InjectMode::Auto),
            _ => Runtime::ALL.into_iter().find(|r| r.name() == t).map(InjectMode::Force).ok_or_else(|| {
                let names: Vec<&str> = Runtime::ALL.iter().map(|r| r.name()).collect();
                format!("{text:?} is not one of off, auto, {}", names.join(", "))
            }),
        }
    }

    /// The name `--explain --json` shows: `off`, `auto` or the runtime's.
    pub(crate) fn name(self) -> &'static str {
        match self {
            InjectMode::Off => "off",
            InjectMode::Auto => "auto",
            InjectMode::Force(r) => r.name(),
        }
    }
}

/// A language runtime ddboot can load a tracer into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Runtime {
    Python,
    Node,
    Java,
    Dotnet,
    Php,
    Ruby,
}

impl Runtime {
    pub(crate) const ALL: [Runtime; 6] =
        [Runtime::Python, Runtime::Node, Runtime::Java, Runtime::Dotnet, Runtime::Php, Runtime::Ruby];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Runtime::Python => "python",
            Runtime::Node => "node",
            Runtime::Java => "java",
            Runtime::Dotnet => "dotnet",
            Runtime::Php => "php",
            Runtime::Ruby => "ruby",
        }
    }
}

/// A platform or AWS variable whose value ddboot ignored (fail-open), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ignored {
    pub(crate) variable: &'static str,
    /// What is wrong and what ddboot does instead, e.g. `"ftp://x": … ; IMDS is skipped`.
    pub(crate) why: String,
}

impl Ignored {
    /// The one warning line printed for it.
    pub(crate) fn warning(&self) -> String {
        format!("ddboot: warning: ignoring {}: {}", self.variable, self.why)
    }
}

/// One unified service tag: its variable, its flag, its `com.datadoghq.tags.*` key, and the
/// flag's value.
pub(crate) struct TagFlag<'a> {
    pub(crate) name: &'static str,
    pub(crate) flag: &'static str,
    pub(crate) key: &'static str,
    pub(crate) value: &'a Option<String>,
}

impl TagFlags {
    /// DD_ENV, DD_SERVICE, DD_VERSION in this order.
    pub(crate) fn each(&self) -> [TagFlag<'_>; 3] {
        [
            TagFlag { name: "DD_ENV", flag: "--dd-env", key: "env", value: &self.env },
            TagFlag { name: "DD_SERVICE", flag: "--dd-service", key: "service", value: &self.service },
            TagFlag { name: "DD_VERSION", flag: "--dd-version", key: "version", value: &self.version },
        ]
    }

    /// Whether a tag is given neither by its flag nor by an inherited non-empty variable: only the
    /// task metadata (a label, the image tag) can then give it.
    pub(crate) fn wanted(&self, env: &Environ) -> bool {
        self.each().iter().any(|t| t.value.is_none() && env.non_empty(t.name).is_none())
    }
}

/// Everything ddboot was asked to do, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    pub(crate) mode: Mode,
    /// PROGRAM and its arguments, byte for byte; may be empty only in a debug mode.
    pub(crate) command: Vec<OsString>,
    pub(crate) timeout: Duration,
    pub(crate) strict: bool,
    pub(crate) quiet: bool,
    pub(crate) metadata_file: Option<PathBuf>,
    pub(crate) imds: Imds,
    pub(crate) task_metadata: Option<Endpoint>,
    pub(crate) socket_dir: PathBuf,
    pub(crate) tags: TagFlags,
    /// `--inject` / `DDBOOT_INJECT`.
    pub(crate) inject: InjectMode,
    /// `--java-agent` / `DDBOOT_JAVA_AGENT`.
    pub(crate) java_agent: Option<PathBuf>,
    /// `--init` / `--init-group` (`DDBOOT_INIT`, `DDBOOT_INIT_GROUP`): how the app is run.
    pub(crate) app_mode: AppMode,
    /// Platform and AWS variables with a bad value, ignored with a warning each.
    pub(crate) ignored: Vec<Ignored>,
}

impl Config {
    /// Why the variable `name` was ignored, if it was.
    pub(crate) fn ignored(&self, name: &str) -> Option<&Ignored> {
        self.ignored.iter().find(|i| i.variable == name)
    }
}

/// How ddboot runs the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AppMode {
    /// `execve`: the app takes ddboot's PID (the default).
    Exec,
    /// `--init`: ddboot forks and stays as init; signals go to the app's process.
    Init,
    /// `--init-group`: as `Init`, signals go to the app's process group.
    InitGroup,
}

impl AppMode {
    pub(crate) fn name(self) -> &'static str {
        match self {
            AppMode::Exec => "exec",
            AppMode::Init => "init",
            AppMode::InitGroup => "init-group",
        }
    }
}

impl Config {
    /// Merges the parsed command line with the inherited environment and checks every value.
    pub(crate) fn new(cli: Cli, env: &Environ) -> Result<Config, Error> {
        let mode = if let Some(dir) = cli.install.clone() {
            Mode::Install(dir)
        } else if cli.explain {
            Mode::Explain(if cli.json { Format::Json } else { Format::Text })
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

        let mut ignored = Vec::new();
        let timeout = match (&cli.timeout, own_str(env, "DDBOOT_TIMEOUT")?) {
            (Some(flag), _) => duration::parse(flag).map_err(|e| usage("--timeout", &e))?,
            (None, Some(var)) if !var.trim().is_empty() => {
                duration::parse(var).map_err(|e| usage("DDBOOT_TIMEOUT", &e))?
            }
            _ => DEFAULT_TIMEOUT,
        };
        let strict = cli.strict || env_bool(env, "DDBOOT_STRICT")?.unwrap_or(false);
        let quiet = cli.quiet || env_bool(env, "DDBOOT_QUIET")?.unwrap_or(false);

        let file_var = match platform_str(env, "ECS_CONTAINER_METADATA_FILE") {
            Ok(v) => v.map(PathBuf::from),
            Err(why) => {
                let why = format!("{why}; the metadata file is skipped");
                ignored.push(Ignored { variable: "ECS_CONTAINER_METADATA_FILE", why });
                None
            }
        };
        let metadata_file = cli.metadata_file.or(file_var);

        let uri_var = platform_str(env, "ECS_CONTAINER_METADATA_URI_V4")
            .and_then(|v| v.map(|v| Endpoint::parse(v).map_err(short)).transpose())
            .unwrap_or_else(|why| {
                let why = format!("{why}; the task metadata is skipped");
                ignored.push(Ignored { variable: "ECS_CONTAINER_METADATA_URI_V4", why });
                None
            });
        let task_metadata = match &cli.task_metadata_uri {
            Some(flag) => Some(Endpoint::parse(flag).map_err(|e| usage("--task-metadata-uri", &e))?),
            None => uri_var,
        };
        if let Err(why) = platform_str(env, "AWS_EXECUTION_ENV") {
            let why = format!("{why}; read as unset (Fargate is still detected from the task metadata)");
            ignored.push(Ignored { variable: "AWS_EXECUTION_ENV", why });
        }

        let socket_dir = cli
            .socket_dir
            .or_else(|| env.get("DDBOOT_SOCKET_DIR").filter(|v| !v.is_empty()).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET_DIR));

        let inject = match (&cli.inject, own_str(env, "DDBOOT_INJECT")?) {
            (Some(flag), _) => InjectMode::parse(flag).map_err(|e| usage("--inject", &e))?,
            (None, Some(var)) => InjectMode::parse(var).map_err(|e| usage("DDBOOT_INJECT", &e))?,
            (None, None) => InjectMode::Off,
        };
        let java_agent = cli
            .java_agent
            .or_else(|| env.get("DDBOOT_JAVA_AGENT").filter(|v| !v.is_empty()).map(PathBuf::from));

        // Each variable is checked even when a flag decides; --init-group implies --init.
        let init_var = env_bool(env, "DDBOOT_INIT")?.unwrap_or(false);
        let group_var = env_bool(env, "DDBOOT_INIT_GROUP")?.unwrap_or(false);
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
            quiet,
            metadata_file,
            imds: imds_config(cli.imds_endpoint.as_deref(), env, &mut ignored)?,
            task_metadata,
            socket_dir,
            tags: cli.tags,
            inject,
            java_agent,
            app_mode,
            ignored,
        })
    }
}

/// Applies the AWS SDK conventions: the flag, then `AWS_EC2_METADATA_SERVICE_ENDPOINT`, then
/// `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE`; `AWS_EC2_METADATA_DISABLED=true` turns IMDS off
/// unless the endpoint was given on the command line. Every variable is checked, even one that
/// another setting overrides: a typo never hides until the day the override goes away. A bad
/// endpoint or mode that is in effect skips IMDS: ddboot never falls back to the default
/// endpoint, which may not be the one the user meant to reach. An unknown mode skips IMDS too,
/// as botocore fails its IMDS requests then.
fn imds_config(flag: Option<&str>, env: &Environ, ignored: &mut Vec<Ignored>) -> Result<Imds, Error> {
    const ENDPOINT: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
    const MODE: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE";
    let v1_allowed = !aws_true(env, "AWS_EC2_METADATA_V1_DISABLED", ignored);
    let disabled = aws_true(env, "AWS_EC2_METADATA_DISABLED", ignored);
    let from_var =
        platform_str(env, ENDPOINT).and_then(|v| v.map(|v| Endpoint::parse(v).map_err(short)).transpose());
    let by_mode = platform_str(env, MODE).and_then(|mode| match mode {
        None => Ok(DEFAULT_IMDS_ENDPOINT),
        Some(m) if m.eq_ignore_ascii_case("ipv4") => Ok(DEFAULT_IMDS_ENDPOINT),
        Some(m) if m.eq_ignore_ascii_case("ipv6") => Ok(IPV6_IMDS_ENDPOINT),
        Some(m) => Err(format!("{} is not IPv4 or IPv6", quote(m, QUOTED_MAX))),
    });
    // What a bad value leads to: with nothing overriding it, IMDS is skipped.
    const SKIPPED: &str = "IMDS is skipped (never the default endpoint instead)";
    const OVERRIDDEN: &str = "overridden anyway";
    let in_effect = flag.is_none() && !disabled;
    if let Err(why) = &from_var {
        let then = if in_effect { SKIPPED } else { OVERRIDDEN };
        ignored.push(Ignored { variable: ENDPOINT, why: format!("{why}; {then}") });
    }
    if let Err(why) = &by_mode {
        let then = if in_effect && matches!(from_var, Ok(None)) { SKIPPED } else { OVERRIDDEN };
        ignored.push(Ignored { variable: MODE, why: format!("{why}; {then}") });
    }
    // The IPv6 endpoint is tried only where nothing chose an endpoint or a mode.
    let ipv6_fallback =
        flag.is_none() && matches!(from_var, Ok(None)) && matches!(platform_str(env, MODE), Ok(None));
    let endpoint = match flag {
        Some(url) => Endpoint::parse(url).map_err(|e| usage("--imds-endpoint", &e))?,
        None if disabled => return Ok(Imds::Disabled("AWS_EC2_METADATA_DISABLED=true".into())),
        None => match (from_var, by_mode) {
            (Ok(Some(endpoint)), _) => endpoint,
            (Err(why), _) => return Ok(Imds::Disabled(format!("invalid {ENDPOINT}: {why}"))),
            (Ok(None), Err(why)) => return Ok(Imds::Disabled(format!("invalid {MODE}: {why}"))),
            (Ok(None), Ok(url)) => {
                Endpoint::parse(url).map_err(|e| usage("the default IMDS endpoint", &e))?
            }
        },
    };
    Ok(Imds::Enabled(ImdsAccess { endpoint, v1_allowed, ipv6_fallback }))
}

/// A variable the platform or the AWS SDKs own, as text: `Ok(None)` when unset or empty (after
/// trimming), `Err` (a reason that quotes it, escaped) when it is not valid UTF-8.
fn platform_str<'e>(env: &'e Environ, name: &str) -> Result<Option<&'e str>, String> {
    let Some(raw) = env.get(name) else { return Ok(None) };
    match raw.to_str() {
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => Ok(Some(v.trim())),
        None => Err(short(format!("not valid UTF-8: \"{}\"", escape_bytes(raw.as_encoded_bytes())))),
    }
}

/// botocore's rule for `AWS_EC2_METADATA_DISABLED` / `AWS_EC2_METADATA_V1_DISABLED`: true only
/// for `true` (any case, surrounding spaces ignored); `false` and empty are silent; any other
/// value (not valid UTF-8 included) is ignored with a warning and counts as false.
fn aws_true(env: &Environ, name: &'static str, ignored: &mut Vec<Ignored>) -> bool {
    match platform_str(env, name) {
        Ok(None) => false,
        Ok(Some(v)) if v.eq_ignore_ascii_case("true") => true,
        Ok(Some(v)) if v.eq_ignore_ascii_case("false") => false,
        Ok(Some(v)) => {
            let why = format!(
                "{} is not true or false; counted as false (as the AWS SDKs do)",
                quote(v, QUOTED_MAX)
            );
            ignored.push(Ignored { variable: name, why });
            false
        }
        Err(why) => {
            ignored.push(Ignored { variable: name, why: format!("{why}; counted as false") });
            false
        }
    }
}

/// The most characters of a platform variable's value quoted in a warning.
const QUOTED_MAX: usize = 40;

/// Why a platform variable is bad, cut to a length that fits a warning line (the reason quotes
/// the value, which can be of any size).
fn short(why: String) -> String {
    clip(&why, 120)
}

/// One of ddboot's own variables, as text: unset is `None`; not valid UTF-8 is a usage error.
fn own_str<'e>(env: &'e Environ, name: &str) -> Result<Option<&'e str>, Error> {
    match env.get(name) {
        None => Ok(None),
        Some(raw) => raw.to_str().map(Some).ok_or_else(|| {
            usage(name, &format!("not valid UTF-8: \"{}\"", escape_bytes(raw.as_encoded_bytes())))
        }),
    }
}

/// Reads one of ddboot's own boolean variables: `true`/`false` in any case, or `1`/`0`; unset or
/// empty is `None`; anything else is a usage error naming it.
fn env_bool(env: &Environ, name: &str) -> Result<Option<bool>, Error> {
    let Some(value) = own_str(env, name)?.map(str::trim) else { return Ok(None) };
    match value {
        "" => Ok(None),
        v if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        v if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        "1" => Ok(Some(true)),
        "0" => Ok(Some(false)),
        v => Err(usage(name, &format!("{v:?} is not true or false"))),
    }
}

fn usage(what: &str, why: &str) -> Error {
    // The reason quotes the value, which can be of any size.
    Error::Usage(format!("invalid {what}: {}", clip(why, 200)))
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
            Imds::Enabled(access) => access.endpoint.to_string(),
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
        assert_eq!(config(&["x"], &[("DDBOOT_QUIET", "true")]).map(|c| c.quiet), Ok(true));
        assert_eq!(config(&["-q", "x"], &[("DDBOOT_QUIET", "0")]).map(|c| c.quiet), Ok(true));
        assert_eq!(config(&["x"], &[("DDBOOT_QUIET", "")]).map(|c| c.quiet), Ok(false));
        assert_eq!(config(&["x"], &[("DDBOOT_QUIET", "loud")]).map_err(|e| e.exit_code()), Err(64));
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

    fn ignored_names(c: &Config) -> Vec<&'static str> {
        c.ignored.iter().map(|i| i.variable).collect()
    }

    #[test]
    fn bad_platform_variables_warn_and_skip_only_their_source() {
        for (name, value, imds_skipped) in [
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv5", true),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "ftp://x", true),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://metadata.internal", true),
            ("AWS_EC2_METADATA_DISABLED", "yes", false),
            ("AWS_EC2_METADATA_V1_DISABLED", "1", false),
            ("ECS_CONTAINER_METADATA_URI_V4", "not a url", false),
        ] {
            let c = config(&["x"], &[(name, value)]).expect(name);
            assert_eq!(ignored_names(&c), [name], "{name}={value}");
            let warning = c.ignored[0].warning();
            assert!(warning.starts_with(&format!("ddboot: warning: ignoring {name}: ")), "{warning}");
            let endpoint = endpoint_of(&c);
            if imds_skipped {
                assert!(endpoint.starts_with(&format!("disabled: invalid {name}")), "{name}: {endpoint}");
            } else {
                assert_eq!(endpoint, "http://169.254.169.254", "{name}={value}");
            }
            assert!(
                matches!(c.imds, Imds::Enabled(ImdsAccess { v1_allowed: true, .. }) | Imds::Disabled(_)),
                "{name}"
            );
        }
        let c =
            config(&["x"], &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://metadata.internal")]).expect("ok");
        assert!(c.ignored[0].why.contains("DNS"), "{:?}", c.ignored);
        let c = config(&["x"], &[("ECS_CONTAINER_METADATA_URI_V4", "not a url")]).expect("ok");
        assert_eq!(c.task_metadata, None);
    }

    #[test]
    fn aws_booleans_follow_botocore() {
        for (value, disabled, warns) in [
            ("true", true, false),
            ("TRUE", true, false),
            ("false", false, false),
            ("", false, false),
            ("yes", false, true),
            ("1", false, true),
        ] {
            let c = config(&["x"], &[("AWS_EC2_METADATA_DISABLED", value)]).expect(value);
            assert_eq!(matches!(c.imds, Imds::Disabled(_)), disabled, "{value:?}");
            assert_eq!(c.ignored.len(), usize::from(warns), "{value:?}");
            let c = config(&["x"], &[("AWS_EC2_METADATA_V1_DISABLED", value)]).expect(value);
            assert_eq!(
                matches!(c.imds, Imds::Enabled(ImdsAccess { v1_allowed: false, .. })),
                disabled,
                "{value:?}"
            );
        }
    }

    #[test]
    fn not_utf8_is_fail_open_for_platform_variables_and_a_usage_error_for_ours() {
        use std::os::unix::ffi::OsStringExt;
        let bad = |s: &str| OsString::from_vec([s.as_bytes(), b"\xff"].concat());
        let cli = |args: &[&str]| Cli::try_parse_from(std::iter::once("ddboot").chain(args.iter().copied()));
        for name in [
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
            "AWS_EC2_METADATA_DISABLED",
            "AWS_EC2_METADATA_V1_DISABLED",
            "ECS_CONTAINER_METADATA_URI_V4",
            "ECS_CONTAINER_METADATA_FILE",
            "AWS_EXECUTION_ENV",
        ] {
            let env = Environ::from_pairs([(OsString::from(name), bad("http://127.0.0.1:18080"))]);
            let c = Config::new(cli(&["x"]).expect("cli"), &env).expect(name);
            assert_eq!(ignored_names(&c), [name]);
            assert!(
                c.ignored[0].why.contains("not valid UTF-8: \"http://127.0.0.1:18080\\xff\""),
                "{:?}",
                c.ignored
            );
            if name.starts_with("AWS_EC2_METADATA_SERVICE_ENDPOINT") {
                assert!(matches!(c.imds, Imds::Disabled(_)), "{name}: never the default endpoint");
            }
        }
        for name in ["DDBOOT_TIMEOUT", "DDBOOT_INJECT", "DDBOOT_STRICT", "DDBOOT_QUIET"] {
            let env = Environ::from_pairs([(OsString::from(name), bad("auto"))]);
            let e = Config::new(cli(&["x"]).expect("cli"), &env).expect_err(name);
            assert_eq!(e.exit_code(), 64, "{name}");
            assert!(e.to_string().contains(name) && e.to_string().contains("UTF-8"), "{e}");
        }
    }

    #[test]
    fn inject_mode_from_flag_or_variable() {
        use super::{InjectMode as Mode, Runtime};
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
            let c = config(&["--imds-endpoint", "http://127.0.0.1:1", "x"], &[(name, value)]).expect(name);
            assert_eq!(endpoint_of(&c), "http://127.0.0.1:1", "{name}: the flag wins");
            assert_eq!(ignored_names(&c), [name]);
            let env = [("AWS_EC2_METADATA_DISABLED", "true"), (name, value)];
            if name != "AWS_EC2_METADATA_DISABLED" {
                let c = config(&["x"], &env).expect(name);
                assert_eq!(endpoint_of(&c), "disabled: AWS_EC2_METADATA_DISABLED=true");
                assert_eq!(ignored_names(&c), [name], "{name} with IMDS disabled");
                assert!(c.ignored[0].why.ends_with("overridden anyway"), "{:?}", c.ignored);
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
            Imds::Enabled(access) => access.ipv6_fallback,
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
        assert!(matches!(c.imds, Imds::Enabled(ImdsAccess { v1_allowed: false, .. })));
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
