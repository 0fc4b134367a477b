//! Node.js: `NODE_OPTIONS += --require <absolute path to dd-trace/init.js>`. The tracer is searched
//! by walking up through `node_modules` from the app script's directory and from the working
//! directory, then in `NODE_PATH`, `/dd_tracer/node` and `/datadog-lib` (Datadog's injector
//! locations). An absolute path, because a bare `dd-trace/init` resolves from the working
//! directory.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{Context, Found, Injection, append_option};
use crate::environ::Environ;

const INIT: &str = "dd-trace/init.js";

pub(super) fn probe(ctx: &Context<'_>) -> Found {
    if let Some(why) = super::already::node(ctx.env, &ctx.argv_strings()) {
        return Found::AlreadyThere(why);
    }
    match find_init(ctx) {
        Some(init) => Found::Tracer(super::Tracer::NodeInit(std::fs::canonicalize(&init).unwrap_or(init))),
        None => Found::Missing("Node.js tracer not found: no node_modules/dd-trace/init.js near the app, in NODE_PATH, /dd_tracer/node or /datadog-lib".into()),
    }
}

/// The app script: the first argument after `node` that is not an option.
fn script_dir(ctx: &Context<'_>) -> Option<PathBuf> {
    if !matches!(ctx.program.as_str(), "node" | "nodejs") {
        return None;
    }
    let mut args = ctx.argv.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(a) = args.next() {
        match a.as_ref() {
            "-r" | "--require" | "--import" | "--loader" | "-e" | "--eval" | "-p" | "--print" => {
                args.next();
            }
            s if s.starts_with('-') => {}
            s => return ctx.cwd.join(s).parent().map(Path::to_path_buf),
        }
    }
    None
}

fn find_init(ctx: &Context<'_>) -> Option<PathBuf> {
    let walk =
        |start: &Path| start.ancestors().map(|d| d.join("node_modules").join(INIT)).find(|p| p.is_file());
    let node_path = ctx.env.get("NODE_PATH").map(std::env::split_paths).into_iter().flatten();
    script_dir(ctx)
        .and_then(|dir| walk(&dir))
        .or_else(|| walk(ctx.cwd))
        .or_else(|| node_path.map(|p| ctx.cwd.join(p).join(INIT)).find(|p| p.is_file()))
        .or_else(|| {
            ["/dd_tracer/node", "/datadog-lib"]
                .iter()
                .flat_map(|d| [Path::new(d).join(INIT), Path::new(d).join("node_modules").join(INIT)])
                .find(|p| p.is_file())
        })
}

/// Quotes a value for NODE_OPTIONS when needed: Node splits it on spaces and honours double
/// quotes with backslash escapes.
fn node_options_quote(value: &str) -> String {
    if value.chars().any(|c| c.is_whitespace() || c == '"' || c == '\\') {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        value.to_string()
    }
}

pub(super) fn apply(init: &Path, argv: &[OsString], env: &Environ) -> Injection {
    let option = format!("--require {}", node_options_quote(&init.display().to_string()));
    Injection { argv: argv.to_vec(), changes: vec![append_option(env, "NODE_OPTIONS", &option)] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_paths_with_spaces_for_node_options() {
        assert_eq!(
            node_options_quote("/app/node_modules/dd-trace/init.js"),
            "/app/node_modules/dd-trace/init.js"
        );
        assert_eq!(node_options_quote("/my app/init.js"), "\"/my app/init.js\"");
        assert_eq!(node_options_quote("/a\"b/init.js"), "\"/a\\\"b/init.js\"");
    }
}
