//! Ruby: `RUBYOPT += -r<absolute path of the datadog gem>/lib/datadog/auto_instrument`, the
//! gem's documented auto-instrumentation, only when the gem is on disk for the Ruby that runs
//! the app.
//!
//! The Ruby is PROGRAM (`ruby`, `ruby3.1`), else its shebang's interpreter (`bundle`, `rails`,
//! `puma`, `unicorn`, `sidekiq` are Ruby scripts), else a `ruby` beside PROGRAM or on the app's
//! `PATH`. Its gem paths, from files only (Ruby is never run): `GEM_HOME`, `GEM_PATH`,
//! `BUNDLE_PATH` (Bundler's `ruby/X.Y.0` layout), the interpreter's `<prefix>/lib/ruby/gems/X.Y.0`,
//! and for `/usr/bin/ruby` Debian's `/var/lib/gems/X.Y.0` and `/usr/local/lib/ruby/gems/X.Y.0`.
//! The newest `datadog-<version>` gem wins. The path is absolute because a `-r` that Ruby cannot
//! resolve aborts it with a LoadError (a bare `datadog/auto_instrument` resolves only when the gem
//! is already on the load path, e.g. under `bundle exec` with the gem in the Gemfile).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{Context, Found, Injection, Tracer, append_option, shown, versioned};
use crate::environ::Environ;

const AUTO_INSTRUMENT: &str = "lib/datadog/auto_instrument";

pub(super) fn is_ruby(name: &str) -> bool {
    versioned(name, "ruby")
}

pub(super) fn probe(ctx: &Context<'_>) -> Found {
    if let Some(why) = super::already::ruby(ctx.env, &ctx.argv_strings()) {
        return Found::AlreadyThere(why);
    }
    let Some(ruby) = ctx.interpreter(is_ruby, &["ruby"]) else {
        return Found::Missing(format!(
            "Ruby tracer not found: no Ruby interpreter found for {} (PROGRAM, its shebang, ruby on PATH)",
            ctx.program.escape_debug()
        ));
    };
    let roots = gem_roots(&ruby, ctx.env, ctx.cwd);
    let found = roots.iter().filter_map(|root| newest_datadog(root)).max_by(|a, b| a.0.cmp(&b.0));
    match found {
        Some((_, gem)) if gem.to_string_lossy().contains(char::is_whitespace) => Found::Missing(format!(
            "the datadog gem at {} cannot go into RUBYOPT: its path contains whitespace",
            shown(&gem)
        )),
        Some((_, gem)) => Found::Tracer(Tracer::RubyAutoInstrument(gem.join(AUTO_INSTRUMENT))),
        None => {
            let roots: Vec<String> = roots.iter().map(|r| shown(r)).collect();
            Found::Missing(format!(
                "Ruby tracer not found for the interpreter {}: no datadog gem in its gem paths ({}) (add gem 'datadog' to the Gemfile and bundle install)",
                shown(&ruby),
                if roots.is_empty() { "none".to_string() } else { roots.join(", ") }
            ))
        }
    }
}

/// The gem directories (each holding `gems/<name>-<version>/`) of this Ruby.
fn gem_roots(ruby: &Path, env: &Environ, cwd: &Path) -> Vec<PathBuf> {
    let abi = ruby_abi(ruby);
    let mut roots = Vec::new();
    for name in ["GEM_HOME", "GEM_PATH"] {
        if let Some(value) = env.get(name) {
            roots.extend(
                std::env::split_paths(value).filter(|p| !p.as_os_str().is_empty()).map(|p| cwd.join(p)),
            );
        }
    }
    let mut versioned_dirs = Vec::new();
    if let Some(bundle) = env.get("BUNDLE_PATH").filter(|v| !v.is_empty()) {
        versioned_dirs.push(cwd.join(bundle).join("ruby"));
    }
    if let Some(prefix) = ruby.parent().and_then(Path::parent) {
        versioned_dirs.push(prefix.join("lib/ruby/gems"));
        if prefix == Path::new("/usr") {
            versioned_dirs.push(PathBuf::from("/var/lib/gems"));
            versioned_dirs.push(PathBuf::from("/usr/local/lib/ruby/gems"));
        }
    }
    for dir in versioned_dirs {
        roots.extend(super::entries_named(&dir, |n| {
            n.starts_with(|c: char| c.is_ascii_digit())
                && abi.as_ref().is_none_or(|abi| n.starts_with(abi.as_str()))
        }));
    }
    roots.dedup();
    roots
}

/// `3.1.` for `/usr/bin/ruby3.1` (or a `ruby` symlink to it): gem directories are per ABI
/// version (`3.1.0`). `None` when the name says nothing.
fn ruby_abi(ruby: &Path) -> Option<String> {
    let named = |p: &Path| {
        let name = p.file_name()?.to_string_lossy().into_owned();
        let version = name.strip_prefix("ruby").filter(|v| v.contains('.'))?;
        Some(format!("{version}."))
    };
    named(ruby).or_else(|| named(&std::fs::canonicalize(ruby).ok()?))
}

/// The newest `gems/datadog-<version>` under `root` that has the auto-instrumentation file.
fn newest_datadog(root: &Path) -> Option<(Vec<u64>, PathBuf)> {
    let entries = std::fs::read_dir(root.join("gems")).ok()?;
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let version =
                name.strip_prefix("datadog-").filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))?;
            let gem = e.path();
            gem.join(format!("{AUTO_INSTRUMENT}.rb")).is_file().then(|| (version_key(version), gem))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
}

/// `2.10.0` → `[2, 10, 0]` (a platform suffix such as `-x86_64-linux` is ignored).
fn version_key(version: &str) -> Vec<u64> {
    version.split('-').next().unwrap_or("").split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

pub(super) fn apply(auto_instrument: &Path, argv: &[OsString], env: &Environ) -> Injection {
    let option = format!("-r{}", auto_instrument.display());
    Injection { argv: argv.to_vec(), changes: vec![append_option(env, "RUBYOPT", &option)] }
}

#[cfg(test)]
mod tests {
    use super::super::{Mode, Probe, Runtime, Tree, probe as probe_all};
    use super::*;

    fn fake_gem(t: &Tree, root: &str, version: &str) -> PathBuf {
        let gem = format!("{root}/gems/datadog-{version}");
        t.file(&format!("{gem}/{AUTO_INSTRUMENT}.rb"), "", 0o644);
        t.join(&gem)
    }

    fn probed(mode: Mode, argv: &[String], env: &[(&str, &str)]) -> Probe {
        let env = Environ::from_pairs(env.iter().copied());
        let argv: Vec<OsString> = argv.iter().map(OsString::from).collect();
        probe_all(mode, None, &argv, &env, Path::new("/nonexistent"))
    }

    #[test]
    fn names_that_mean_ruby() {
        for name in ["ruby", "ruby3.1", "bundle", "rails", "puma", "unicorn", "sidekiq"] {
            assert_eq!(super::super::runtime_of(name), Some(Runtime::Ruby), "{name}");
        }
        assert_eq!(super::super::runtime_of("rubyx"), None);
    }

    #[test]
    fn the_newest_gem_of_this_rubys_prefix() {
        let t = Tree::new();
        let ruby = t.file("usr/local/bin/ruby", "", 0o755);
        fake_gem(&t, "usr/local/lib/ruby/gems/3.3.0", "2.3.0");
        let newest = fake_gem(&t, "usr/local/lib/ruby/gems/3.3.0", "2.10.1");
        t.file(
            "usr/local/lib/ruby/gems/3.3.0/gems/datadog-ci-9.0.0/lib/datadog/auto_instrument.rb",
            "",
            0o644,
        );
        let p =
            probed(Mode::Auto, &[ruby.display().to_string(), "app.rb".into()], &[("PATH", "/nonexistent")]);
        assert_eq!(
            p.tracer().cloned(),
            Some(Tracer::RubyAutoInstrument(newest.join(AUTO_INSTRUMENT))),
            "{p:?}"
        );
        let got =
            super::super::apply(&p, &[OsString::from("ruby")], &Environ::from_pairs([("RUBYOPT", "-W0")]));
        assert_eq!(got.changes[0].name, "RUBYOPT");
        assert_eq!(got.changes[0].value, Some(format!("-W0 -r{}", newest.join(AUTO_INSTRUMENT).display())));
    }

    #[test]
    fn bundle_through_its_shebang_and_gem_home() {
        let t = Tree::new();
        let ruby = t.file("usr/bin/ruby3.1", "", 0o755);
        let bundle = t.file("app/bin/bundle", &format!("#!{}\n", ruby.display()), 0o755);
        let gem = fake_gem(&t, "gemhome", "2.0.0");
        let home = t.join("gemhome").display().to_string();
        let argv = [bundle.display().to_string(), "exec".into(), "puma".into()];
        let p = probed(Mode::Auto, &argv, &[("GEM_HOME", &home)]);
        assert_eq!(p.detected_by(), Some("program name bundle"));
        assert_eq!(p.tracer().cloned(), Some(Tracer::RubyAutoInstrument(gem.join(AUTO_INSTRUMENT))), "{p:?}");
        // BUNDLE_PATH's ruby/X.Y.0 layout, for the ABI the interpreter's name gives.
        let t2 = Tree::new();
        fake_gem(&t2, "vendor/ruby/3.0.0", "9.0.0");
        let gem = fake_gem(&t2, "vendor/ruby/3.1.0", "2.1.0");
        let vendor = t2.join("vendor").display().to_string();
        let p = probed(Mode::Auto, &argv, &[("BUNDLE_PATH", &vendor)]);
        assert_eq!(p.tracer().cloned(), Some(Tracer::RubyAutoInstrument(gem.join(AUTO_INSTRUMENT))), "{p:?}");
    }

    #[test]
    fn no_gem_warns_and_changes_nothing() {
        let t = Tree::new();
        let ruby = t.file("usr/bin/ruby", "", 0o755);
        let argv = [ruby.display().to_string(), "app.rb".into()];
        for mode in [Mode::Auto, Mode::Force(Runtime::Ruby)] {
            let p = probed(mode, &argv, &[("PATH", "/nonexistent")]);
            assert_eq!(p.tracer().cloned(), None);
            let warning = p.warning().clone().expect("warning");
            assert!(warning.contains(&format!("interpreter {}", ruby.display())), "{warning}");
            let os: Vec<OsString> = argv.iter().map(OsString::from).collect();
            let got = super::super::apply(&p, &os, &Environ::default());
            assert_eq!((got.argv, got.changes), (os, vec![]));
        }
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(version_key("2.10.0") > version_key("2.9.9"));
        assert_eq!(version_key("2.3.0-x86_64-linux"), vec![2, 3, 0]);
    }
}
