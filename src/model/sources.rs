//! Where a model's texts come from: the policy directory, the schema and the plan catalog on
//! disk, or the defaults embedded at build time; and the version hash that names a set.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The default policy files, embedded at build time.
pub const EMBEDDED_POLICIES: &[(&str, &str)] = &[
    ("org.cedar", include_str!("../../policies/org.cedar")),
    (
        "members.cedar",
        include_str!("../../policies/members.cedar"),
    ),
    (
        "workspaces.cedar",
        include_str!("../../policies/workspaces.cedar"),
    ),
    (
        "resources.cedar",
        include_str!("../../policies/resources.cedar"),
    ),
    (
        "plan_gates.cedar",
        include_str!("../../policies/plan_gates.cedar"),
    ),
];

/// The default schema, embedded at build time.
pub const EMBEDDED_SCHEMA: &str = include_str!("../../schema/tollgate.cedarschema");

/// One named input text.
#[derive(Debug, Clone)]
pub struct Source {
    /// File name shown in ids and messages.
    pub name: String,
    /// Contents.
    pub text: String,
}

/// Where a model comes from: files on disk or the embedded defaults, each part on its own.
#[derive(Debug, Clone, Default)]
pub struct ModelPaths {
    /// Directory of `*.cedar` files.
    pub policies: Option<PathBuf>,
    /// Schema file (`.cedarschema`, or JSON schema ending in `.json`).
    pub schema: Option<PathBuf>,
    /// Plan catalog TOML.
    pub plans: Option<PathBuf>,
    /// Forward-auth route file (TOML); none, and `/v1/forward-auth` answers 503.
    pub routes: Option<PathBuf>,
}

/// The texts of a model, read but not parsed.
#[derive(Debug, Clone)]
pub struct ModelSources {
    /// Policy files, sorted by name.
    pub policies: Vec<Source>,
    /// The schema.
    pub schema: Source,
    /// The plan catalog.
    pub catalog: Source,
    /// The forward-auth route file, when one is configured.
    pub routes: Option<Source>,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::PolicyLoad(format!("cannot read `{}`: {e}", path.display())))
}

impl ModelSources {
    /// Reads the model: each part from its path when given, else the embedded default.
    pub fn read(paths: &ModelPaths) -> Result<Self> {
        let policies = match &paths.policies {
            None => EMBEDDED_POLICIES
                .iter()
                .map(|(n, t)| Source {
                    name: (*n).to_string(),
                    text: (*t).to_string(),
                })
                .collect(),
            Some(dir) => {
                let entries = std::fs::read_dir(dir).map_err(|e| {
                    Error::PolicyLoad(format!(
                        "cannot read policy directory `{}`: {e}",
                        dir.display()
                    ))
                })?;
                let mut files = Vec::new();
                for entry in entries {
                    let entry = entry.map_err(|e| {
                        Error::PolicyLoad(format!("cannot list `{}`: {e}", dir.display()))
                    })?;
                    let path = entry.path();
                    // Dot entries are never policies: an editor's lock or swap file
                    // (`.#org.cedar`), or a Kubernetes ConfigMap's `..data` and `..2026_*`.
                    if entry.file_name().to_string_lossy().starts_with('.') {
                        continue;
                    }
                    if path.extension().and_then(|e| e.to_str()) == Some("cedar") {
                        let name = path
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        files.push(Source {
                            name,
                            text: read(&path)?,
                        });
                    }
                }
                files.sort_by(|a, b| a.name.cmp(&b.name));
                if files.is_empty() {
                    return Err(Error::PolicyLoad(format!(
                        "policy directory `{}` holds no `.cedar` file",
                        dir.display()
                    )));
                }
                files
            }
        };
        let schema = match &paths.schema {
            None => Source {
                name: "tollgate.cedarschema".into(),
                text: EMBEDDED_SCHEMA.into(),
            },
            Some(p) => Source {
                name: p.display().to_string(),
                text: read(p)?,
            },
        };
        let catalog = match &paths.plans {
            None => Source {
                name: "plans.toml".into(),
                text: crate::plans::DEFAULT_CATALOG.into(),
            },
            Some(p) => Source {
                name: p.display().to_string(),
                text: read(p)?,
            },
        };
        let routes = match &paths.routes {
            None => None,
            Some(p) => Some(Source {
                name: p.display().to_string(),
                text: read(p)?,
            }),
        };
        Ok(ModelSources {
            policies,
            schema,
            catalog,
            routes,
        })
    }

    /// Hex SHA-256 over every input's name and text: equal versions, equal models.
    pub fn version(&self) -> String {
        let mut hash = Sha256::new();
        // Without a route file the version is what it was before route files existed.
        let parts = self.policies.iter().chain([&self.schema, &self.catalog]);
        for s in parts.chain(self.routes.as_ref()) {
            hash.update(s.name.as_bytes());
            hash.update([0]);
            hash.update(s.text.as_bytes());
            hash.update([0]);
        }
        hex::encode(hash.finalize())
    }
}
