//! Java: `JAVA_TOOL_OPTIONS += -javaagent:<jar>`. The jar comes from `--java-agent` /
//! `DDBOOT_JAVA_AGENT`, else the conventional locations. A configured jar that does not exist is
//! a warning and no injection: a JVM given a missing `-javaagent` jar refuses to start.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{Context, Found, Injection, Tracer, append_option};
use crate::environ::Environ;

/// Where Datadog's packages and injectors put the agent.
pub(crate) const LOCATIONS: [&str; 3] =
    ["/opt/datadog/dd-java-agent.jar", "/datadog-lib/dd-java-agent.jar", "/dd_tracer/java/dd-java-agent.jar"];

pub(super) fn probe(ctx: &Context<'_>, configured: Option<&Path>) -> Found {
    if let Some(why) = super::already::java(ctx.env, &ctx.argv_strings()) {
        return Found::AlreadyThere(why);
    }
    let jar: Option<PathBuf> = match configured {
        Some(jar) if jar.is_file() => Some(ctx.cwd.join(jar)),
        Some(jar) => {
            return Found::Missing(format!("the configured Java agent {} does not exist", jar.display()));
        }
        None => LOCATIONS.iter().map(PathBuf::from).find(|p| p.is_file()),
    };
    match jar {
        Some(jar) if jar.to_string_lossy().contains(char::is_whitespace) => Found::Missing(format!(
            "the Java agent path {} contains whitespace (JAVA_TOOL_OPTIONS splits on it)",
            jar.display()
        )),
        Some(jar) => Found::Tracer(Tracer::JavaAgent(jar)),
        None => Found::Missing(format!("Java tracer not found (--java-agent, or {})", LOCATIONS.join(", "))),
    }
}

pub(super) fn apply(jar: &Path, argv: &[OsString], env: &Environ) -> Injection {
    let option = format!("-javaagent:{}", jar.display());
    Injection { argv: argv.to_vec(), changes: vec![append_option(env, "JAVA_TOOL_OPTIONS", &option)] }
}
