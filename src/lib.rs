//! Tollgate: a policy decision point that answers allow, deny (403) or payment required (402)
//! from Cedar policies over a SQLite entity store.
//!
//! Layers, outermost first ([`LAYERS`]; a module imports only modules below it): [`cli`] and
//! [`startup`] (clap, the process, signals), [`http`] (the only code that knows actix and the
//! wire), [`watch`] and [`config`], [`engine`] (request → decision), [`org`] (the org rules),
//! [`model`] (the validated policy set), [`store`] (SQLite), [`billing`] (Stripe events), [`strict_json`], [`error`] and
//! [`plans`] (the plan catalog and the 402 value). See `ARCHITECTURE.md`.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod audit;
pub mod billing;
pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod forward;
pub mod http;
pub mod model;
pub mod org;
pub mod plans;
pub mod startup;
pub mod store;
pub mod strict_json;
pub mod watch;

pub use error::{Error, Result};

/// The crate's modules, outermost first: each may import only the ones after it (checked by a
/// test over the sources).
pub const LAYERS: &[&str] = &[
    "cli",
    "startup",
    "http",
    "watch",
    "config",
    "engine",
    "store",
    "billing",
    "org",
    "audit",
    "model",
    "forward",
    "strict_json",
    "error",
    "plans",
];

#[cfg(test)]
mod tests {
    use super::LAYERS;

    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                sources(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// No module imports one above it: the layering `ARCHITECTURE.md` draws is the code's.
    #[test]
    fn no_module_imports_one_above_it() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        let mut problems = Vec::new();
        for f in files {
            let rel = f.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
            let top = rel.split(['/', '.']).next().unwrap_or_default().to_string();
            let Some(own) = LAYERS.iter().position(|l| *l == top) else {
                assert!(
                    ["lib", "main"].contains(&top.as_str()),
                    "`src/{rel}` belongs to no layer of LAYERS"
                );
                continue;
            };
            let text = std::fs::read_to_string(&f).unwrap();
            for (at, _) in text.match_indices("crate::") {
                let name: String = text[at + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if let Some(used) = LAYERS.iter().position(|l| *l == name) {
                    if used < own {
                        problems.push(format!("`src/{rel}` ({top}) imports `{name}`, above it"));
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
