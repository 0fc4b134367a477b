//! Everything ddboot prints: the one-line status, the unresolved warning, the `--explain`
//! report (text or JSON) and the `--print-env` shell lines.
//!
//! Rendering is pure (functions return strings); the caller decides where they go.

use serde_json::{Map, Value, json};

use crate::duration::human;
use crate::plan::Plan;
use crate::resolve::Findings;
use crate::source::Outcome;

/// `ddboot: DD_AGENT_HOST=10.0.1.43 (metadata-file, 0.2 ms)`.
pub fn status_line(findings: &Findings) -> Option<String> {
    let r = findings.resolved.as_ref()?;
    Some(format!("ddboot: DD_AGENT_HOST={} ({}, {})", r.host, r.source, human(findings.elapsed)))
}

/// The warning printed when no host was found: every source and why it failed.
pub fn unresolved_warning(findings: &Findings, strict: bool) -> String {
    let reasons: Vec<String> =
        findings.attempts.iter().map(|a| format!("{}: {}", a.source, a.detail)).collect();
    let consequence =
        if strict { "not starting the app (--strict)" } else { "starting the app without DD_AGENT_HOST" };
    format!(
        "ddboot: warning: Datadog Agent host not resolved after {}; {consequence} [{}]",
        human(findings.elapsed),
        reasons.join("; ")
    )
}

/// The human `--explain` report.
pub fn explain_text(findings: &Findings, plan: &Plan) -> String {
    let mut out = String::from("Resolution\n");
    for a in &findings.attempts {
        let elapsed = if a.outcome == Outcome::Skipped { "-".to_string() } else { human(a.elapsed) };
        out.push_str(&format!(
            "  {:<14} {:<8} {:>9}  {}\n",
            a.source.name(),
            a.outcome.name(),
            elapsed,
            a.detail
        ));
    }
    match &findings.resolved {
        Some(r) => out.push_str(&format!(
            "\nAgent host: {} (from {}, {})\n",
            r.host,
            r.source,
            human(findings.elapsed)
        )),
        None => out.push_str(&format!("\nAgent host: not resolved ({})\n", human(findings.elapsed))),
    }
    out.push_str("\nEnvironment changes\n");
    if plan.changes.is_empty() {
        out.push_str("  (none)\n");
    }
    for c in &plan.changes {
        match &c.value {
            Some(v) => out.push_str(&format!("  {}={}  ({})\n", c.name, v, c.origin)),
            None => out.push_str(&format!("  unset {}  ({})\n", c.name, c.origin)),
        }
    }
    if !plan.argv.is_empty() {
        let argv: Vec<String> = plan.argv.iter().map(|a| shell_quote(&a.to_string_lossy())).collect();
        out.push_str(&format!("\nCommand\n  {}\n", argv.join(" ")));
    }
    out
}

/// The `--explain --json` object.
pub fn explain_json(findings: &Findings, plan: &Plan) -> Value {
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
        origins.insert(c.name.clone(), Value::String(c.origin.clone()));
    }
    let command = (!plan.argv.is_empty()).then(|| {
        plan.argv.iter().map(|a| Value::String(a.to_string_lossy().into_owned())).collect::<Vec<_>>()
    });
    json!({
        "agent_host": findings.resolved.as_ref().map(|r| r.host.clone()),
        "source": findings.resolved.as_ref().map(|r| r.source.name()),
        "elapsed_ms": millis(findings.elapsed),
        "attempts": attempts,
        "env": env,
        "origins": origins,
        "command": command,
    })
}

fn millis(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// `export NAME='value'` / `unset NAME` lines for `eval`.
pub fn print_env(plan: &Plan) -> String {
    let mut out = String::new();
    for c in &plan.changes {
        match &c.value {
            Some(v) => out.push_str(&format!("export {}={}\n", c.name, shell_quote(v))),
            None => out.push_str(&format!("unset {}\n", c.name)),
        }
    }
    out
}

/// Single-quotes `s` for a POSIX shell: every byte literal, `'` written as `'\''`.
pub fn shell_quote(s: &str) -> String {
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
