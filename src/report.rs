//! The reports ddboot prints: the one-line status, the unresolved warning, the `--explain`
//! report (text or JSON) and the `--print-env` shell lines. (Single-line warnings of one step,
//! such as an ignored variable or a failed write, are worded where they happen.)
//!
//! Rendering is pure (functions return strings); the caller decides where they go.

use std::fmt;

use serde_json::{Map, Value, json};

use crate::config::{AppMode, Config, Format, InjectMode};
use crate::duration::human;
use crate::inject::Probe;
use crate::output::{clip, escape};
use crate::plan::Plan;
use crate::resolve::Findings;
use crate::source::Outcome;

/// `ddboot: DD_AGENT_HOST=10.0.1.43 (metadata-file, 0.2 ms)`, then `; init mode` (or
/// `; init-group mode`) when the app is not exec'd.
pub(crate) fn status_line(findings: &Findings, app_mode: AppMode) -> Option<String> {
    let r = findings.resolved.as_ref()?;
    let what = match &r.host {
        // An inherited DD_AGENT_HOST can be any size: quote at most a DNS name's length of it.
        Some(host) => format!("DD_AGENT_HOST={}", clip(host, 255)),
        None => "Agent sockets, no host needed".to_string(),
    };
    Some(format!("ddboot: {what} ({}, {}){}", r.source, human(findings.elapsed), InMode(app_mode)))
}

/// `; init mode` / `; init-group mode` after a line about starting the app; nothing in exec mode.
struct InMode(AppMode);

impl fmt::Display for InMode {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            AppMode::Exec => Ok(()),
            mode => write!(out, "; {} mode", mode.name()),
        }
    }
}

/// The most characters of one line of the fail-open warning.
pub(crate) const WARNING_LINE_MAX: usize = 160;

/// The warning printed when no host was found: one line (at most [`WARNING_LINE_MAX`]
/// characters, once escaped) per source that did not answer and why, then one summary line
/// (which names the app mode unless it is exec).
pub(crate) fn unresolved_warning(findings: &Findings, config: &Config) -> Vec<String> {
    if config.strict {
        unresolved_lines(findings, "not starting the app (--strict)", "")
    } else {
        let in_mode = InMode(config.app_mode).to_string();
        unresolved_lines(findings, "starting the app without DD_AGENT_HOST", &in_mode)
    }
}

/// `--print-env`'s warning when no host was found: it starts nothing, so it says what it prints;
/// the same lines otherwise.
pub(crate) fn unresolved_print_env_warning(findings: &Findings, config: &Config) -> Vec<String> {
    let consequence = if config.strict { "exiting 69 (--strict)" } else { "printing no DD_AGENT_HOST" };
    unresolved_lines(findings, consequence, "")
}

fn unresolved_lines(findings: &Findings, consequence: &str, in_mode: &str) -> Vec<String> {
    let mut lines: Vec<String> = findings
        .attempts
        .iter()
        .filter(|a| a.outcome != Outcome::Ok)
        .map(|a| {
            let line = format!("ddboot: warning: {} {}: {}", a.source, a.outcome.name(), escape(&a.detail));
            clip(&line, WARNING_LINE_MAX)
        })
        .collect();
    lines.push(format!(
        "ddboot: warning: Datadog Agent host not resolved after {}; {consequence} (ddboot --explain shows more){in_mode}",
        human(findings.elapsed),
    ));
    lines
}

/// The `--explain` report, text or JSON; `pid` is ddboot's own (its process section says whether
/// it is PID 1 and how it would run the app).
pub(crate) fn explain(
    format: Format,
    findings: &Findings,
    plan: &Plan,
    tracer: &Probe,
    config: &Config,
    pid: u32,
) -> String {
    let (mode, process) = (config.inject, Process { pid, mode: config.app_mode });
    match format {
        Format::Text => Explain { findings, plan, tracer, mode, process }.to_string(),
        Format::Json => format!("{}\n", explain_json(findings, plan, tracer, mode, &process)),
    }
}

/// The human `--explain` report, rendered by its `Display`.
struct Explain<'a> {
    findings: &'a Findings,
    plan: &'a Plan,
    tracer: &'a Probe,
    mode: InjectMode,
    process: Process,
}

impl fmt::Display for Explain<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Explain { findings, plan, tracer, mode, ref process } = *self;
        out.write_str("Resolution\n")?;
        for a in &findings.attempts {
            let elapsed = if a.outcome == Outcome::Skipped { "-".to_string() } else { human(a.elapsed) };
            writeln!(
                out,
                "  {:<14} {:<8} {:>9}  {}",
                a.source.name(),
                a.outcome.name(),
                elapsed,
                escape(&a.detail)
            )?;
        }
        match &findings.resolved {
            Some(r) => writeln!(
                out,
                "\nAgent host: {} (from {}, {})",
                escape(r.host.as_deref().unwrap_or("none needed (Unix sockets)")),
                r.source,
                human(findings.elapsed)
            ),
            None => writeln!(out, "\nAgent host: not resolved ({})", human(findings.elapsed)),
        }?;
        let p = &findings.platform;
        let unknown = |v: &Option<String>| v.as_deref().map_or_else(|| "unknown".into(), escape);
        out.write_str("\nPlatform\n")?;
        writeln!(out, "  AWS_EXECUTION_ENV  {}", unknown(&p.execution_env))?;
        writeln!(out, "  launch type        {}", unknown(&p.launch_type))?;
        writeln!(out, "  network mode       {}", unknown(&p.network_mode))?;
        writeln!(out, "  agent              {}", p.agent.map_or("unknown", |a| a.name()))?;
        if let Some(name) = &p.agent_container {
            writeln!(out, "  agent container    {}", escape(name))?;
        }
        writeln!(out, "  sockets            {}", escape(&p.sockets.describe()))?;
        out.write_str("\nService tags\n")?;
        for t in &plan.tags {
            let value = t.value.as_deref().map_or_else(|| "-".into(), escape);
            writeln!(out, "  {:<11} {:<20} ({})", t.name, value, escape(&t.origin.to_string()))?;
        }
        if mode != InjectMode::Off {
            out.write_str("\nTracer\n")?;
            writeln!(out, "  runtime            {}", tracer.runtime().map_or("none", |r| r.name()))?;
            if let Some(detected_by) = tracer.detected_by() {
                writeln!(out, "  detected by        {}", escape(detected_by))?;
            }
            match (tracer.tracer(), tracer.skipped()) {
                (Some(t), _) => {
                    writeln!(out, "  injecting          {}", escape(&t.describe()))?;
                }
                (None, Some(why)) => {
                    writeln!(out, "  not injecting      {}", escape(why))?;
                }
                (None, None) => {}
            }
            if let Some(note) = tracer.note() {
                writeln!(out, "  note               {}", escape(note))?;
            }
            for (path, text) in &plan.files {
                writeln!(out, "  file {}:", escape(&path.display().to_string()))?;
                for line in text.lines() {
                    writeln!(out, "    {}", escape(line))?;
                }
            }
        }
        out.write_str("\nEnvironment changes\n")?;
        if plan.changes.is_empty() {
            out.write_str("  (none)\n")?;
        }
        for c in &plan.changes {
            match &c.value {
                Some(v) => writeln!(out, "  {}={}  ({})", c.name, escape(v), escape(&c.origin.to_string())),
                None => writeln!(out, "  unset {}  ({})", c.name, escape(&c.origin.to_string())),
            }?;
        }
        if !plan.argv.is_empty() {
            let argv: Vec<String> =
                plan.argv.iter().map(|a| escape(&shell_quote(&a.to_string_lossy()))).collect();
            writeln!(out, "\nCommand\n  {}", argv.join(" "))?;
        }
        write!(out, "{process}")
    }
}

/// The `--explain --json` object.
fn explain_json(
    findings: &Findings,
    plan: &Plan,
    tracer: &Probe,
    mode: InjectMode,
    process: &Process,
) -> Value {
    let attempts: Vec<Value> = findings
        .attempts
        .iter()
        .map(|a| {
            json!({
                "source": a.source.name(),
                "outcome": a.outcome.name(),
                "elapsed_ms": millis(a.elapsed),
                "detail": a.detail,
            })
        })
        .collect();
    let mut env = Map::new();
    let mut origins = Map::new();
    for c in &plan.changes {
        env.insert(c.name.clone(), c.value.clone().map_or(Value::Null, Value::String));
        origins.insert(c.name.clone(), Value::String(c.origin.to_string()));
    }
    let mut tags = Map::new();
    for t in &plan.tags {
        tags.insert(t.name.to_string(), json!({ "value": t.value, "origin": t.origin.to_string() }));
    }
    let p = &findings.platform;
    let path = |s: &Option<std::path::PathBuf>| s.as_ref().map(|p| p.display().to_string());
    let command = (!plan.argv.is_empty()).then(|| {
        plan.argv.iter().map(|a| Value::String(a.to_string_lossy().into_owned())).collect::<Vec<_>>()
    });
    json!({
        "agent_host": findings.resolved.as_ref().and_then(|r| r.host.clone()),
        "source": findings.resolved.as_ref().map(|r| r.source.name()),
        "elapsed_ms": millis(findings.elapsed),
        "attempts": attempts,
        "env": env,
        "origins": origins,
        "tags": tags,
        "platform": {
            "execution_env": p.execution_env,
            "launch_type": p.launch_type,
            "network_mode": p.network_mode,
            "agent": p.agent.map(|a| a.name()),
            "agent_container": p.agent_container,
            "sockets": { "apm": path(&p.sockets.apm), "dsd": path(&p.sockets.dsd) },
        },
        "command": command,
        "process": { "pid": process.pid, "pid1": process.pid == 1, "app_mode": process.mode.name() },
        "inject": {
            "mode": mode.name(),
            "runtime": tracer.runtime().map(|r| r.name()),
            "detected_by": tracer.detected_by(),
            "tracer": tracer.tracer().map(|t| t.describe()),
            "tracer_path": tracer.tracer().and_then(|t| t.path()).map(|p| p.display().to_string()),
            "skipped": tracer.skipped(),
            "note": tracer.note(),
            "files": plan.files.iter().map(|(p, t)| json!({"path": p.display().to_string(), "contents": t})).collect::<Vec<_>>(),
        },
    })
}

/// ddboot's PID and how it would run the app: the last section of `--explain`.
struct Process {
    pid: u32,
    mode: AppMode,
}

impl fmt::Display for Process {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pid1 = if self.pid == 1 { "yes".to_string() } else { format!("no (PID {})", self.pid) };
        let how = match self.mode {
            AppMode::Exec => "exec: the app takes ddboot's PID and gets signals directly",
            AppMode::Init => {
                "init: the app is ddboot's child; ddboot forwards signals to it and reaps zombies"
            }
            AppMode::InitGroup => {
                "init-group: the app is ddboot's child; ddboot forwards signals to its process group and reaps zombies"
            }
        };
        write!(out, "\nProcess\n  PID 1              {pid1}\n  runs the app       {how}\n")
    }
}

fn millis(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// `export NAME='value'` / `unset NAME` lines for `eval`.
pub(crate) fn print_env(plan: &Plan) -> String {
    PrintEnv(plan).to_string()
}

/// The `--print-env` lines, rendered by its `Display`.
struct PrintEnv<'a>(&'a Plan);

impl fmt::Display for PrintEnv<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.0.changes {
            match &c.value {
                Some(v) => writeln!(out, "export {}={}", c.name, shell_quote(v))?,
                None => writeln!(out, "unset {}", c.name)?,
            }
        }
        Ok(())
    }
}

/// Single-quotes `s` for a POSIX shell: every byte literal, `'` written as `'\''`.
pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_hostile_values() {
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_quote(""), "''");
    }
}
