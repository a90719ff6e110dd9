//! A loaded model: schema, validated policies, plan catalog, and everything precomputed from
//! them so that a decision does no work that depends only on the files.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{
    ActionConstraint, Effect, Entity, EntityUid, Policy, PolicyId, PolicySet, RestrictedExpression,
    Schema, ValidationMode, Validator,
};
use sha2::{Digest, Sha256};

use crate::billing::Catalog;
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
                text: crate::billing::DEFAULT_CATALOG.into(),
            },
            Some(p) => Source {
                name: p.display().to_string(),
                text: read(p)?,
            },
        };
        Ok(ModelSources {
            policies,
            schema,
            catalog,
        })
    }
}

/// What kind of plan gate a forbid policy is (from its `@gate` annotation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// `@gate("feature") @feature("x")`: the plan lacks a feature.
    Feature(String),
    /// `@gate("limit") @resource_type("quota:x")`: a limit is reached.
    Limit(String),
}

/// Policies and entities that can matter for one action.
#[derive(Debug)]
pub struct ActionModel {
    /// The action entity and its ancestor action groups, from the schema.
    pub entities: Vec<Entity>,
    /// Every policy whose action scope can match this action.
    pub policies: PolicySet,
    /// The same minus plan gates: the role side.
    pub role_policies: PolicySet,
    /// Plan gates among `policies`.
    pub gates: HashMap<PolicyId, Gate>,
}

/// Where a policy was read from.
#[derive(Debug, Clone)]
pub struct PolicyOrigin {
    /// File name.
    pub file: String,
    /// 1-based line of the policy's first character.
    pub line: usize,
}

/// A loaded, validated model. Immutable: a reload builds a new one and swaps it in.
#[derive(Debug)]
pub struct Model {
    /// The schema.
    pub schema: Schema,
    /// All policies, ids rewritten to `@id` or `file:index`.
    pub policies: PolicySet,
    /// Per-action slices.
    pub actions: HashMap<EntityUid, ActionModel>,
    /// Entity uids written literally in policy conditions; loaded into every slice.
    pub literal_uids: Vec<EntityUid>,
    /// The plan catalog.
    pub catalog: Arc<Catalog>,
    /// One `Plan` entity per tier, by tier name.
    pub plan_entities: HashMap<String, Entity>,
    /// Where each policy came from.
    pub origins: HashMap<String, PolicyOrigin>,
    /// Hex SHA-256 over every input text.
    pub version: String,
    /// Input file names.
    pub files: Vec<String>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl Model {
    /// Parses and strictly validates a model.
    pub fn build(src: &ModelSources) -> Result<Model> {
        let schema = if src.schema.name.ends_with(".json") {
            Schema::from_json_str(&src.schema.text)
                .map_err(|e| Error::PolicyLoad(format!("schema `{}`: {e}", src.schema.name)))?
        } else {
            let (s, warnings) = Schema::from_cedarschema_str(&src.schema.text).map_err(|e| {
                Error::PolicyLoad(format!("schema `{}`: {}", src.schema.name, render(&e)))
            })?;
            for w in warnings {
                tracing::warn!(schema = %src.schema.name, warning = %w, "schema warning");
            }
            s
        };
        let mut policies = PolicySet::new();
        let mut origins = HashMap::new();
        for file in &src.policies {
            let parsed = PolicySet::from_str(&file.text).map_err(|e| {
                Error::PolicyLoad(format!("policy file `{}`: {}", file.name, render(&e)))
            })?;
            if parsed.templates().next().is_some() {
                return Err(Error::PolicyLoad(format!(
                    "policy file `{}` holds a template; templates are not supported",
                    file.name
                )));
            }
            let mut in_file: Vec<&Policy> = parsed.policies().collect();
            // `from_str` names policies `policy0`, `policy1`, ... in source order.
            in_file.sort_by_key(|p| {
                p.id()
                    .to_string()
                    .trim_start_matches("policy")
                    .parse::<usize>()
                    .unwrap_or(usize::MAX)
            });
            let mut cursor = 0;
            for (index, p) in in_file.into_iter().enumerate() {
                let id = match p.annotation("id") {
                    Some(id) => id.to_string(),
                    None => format!("{}:{index}", file.name),
                };
                let text = p.to_cedar().unwrap_or_default();
                let line = match file.text[cursor..]
                    .find(text.trim())
                    .filter(|_| !text.is_empty())
                {
                    Some(off) => {
                        cursor += off;
                        line_of(&file.text, cursor)
                    }
                    None => 0,
                };
                if origins.contains_key(&id) {
                    return Err(Error::PolicyLoad(format!(
                        "policy id `{id}` in `{}` is already used by another policy",
                        file.name
                    )));
                }
                origins.insert(
                    id.clone(),
                    PolicyOrigin {
                        file: file.name.clone(),
                        line,
                    },
                );
                policies
                    .add(p.new_id(PolicyId::new(&id)))
                    .map_err(|e| Error::PolicyLoad(format!("policy `{id}`: {e}")))?;
            }
        }
        let validation = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if !validation.validation_passed() {
            let errs: Vec<String> = validation
                .validation_errors()
                .map(|e| {
                    let id = e.policy_id().to_string();
                    match origins.get(&id) {
                        Some(o) => format!("{}:{} policy `{id}`: {}", o.file, o.line, render(e)),
                        None => format!("policy `{id}`: {}", render(e)),
                    }
                })
                .collect();
            return Err(Error::PolicyLoad(format!(
                "policies fail validation against the schema:\n{}",
                errs.join("\n")
            )));
        }
        for w in validation.validation_warnings() {
            tracing::warn!(warning = %w, "policy validation warning");
        }
        let catalog = Arc::new(Catalog::parse(&src.catalog.text, &src.catalog.name)?);
        let actions = action_models(&schema, &policies)?;
        let mut literal_uids: Vec<EntityUid> = policies
            .policies()
            .flat_map(|p| p.entity_literals())
            .filter(|u| !actions.contains_key(u))
            .collect();
        literal_uids.sort_by_key(|u| u.to_string());
        literal_uids.dedup();
        let plan_entities = catalog
            .tiers()
            .iter()
            .map(|t| Ok((t.name.clone(), plan_entity(t)?)))
            .collect::<Result<_>>()?;
        let mut hash = Sha256::new();
        let mut files = Vec::new();
        for s in src.policies.iter().chain([&src.schema, &src.catalog]) {
            hash.update(s.name.as_bytes());
            hash.update([0]);
            hash.update(s.text.as_bytes());
            hash.update([0]);
            files.push(s.name.clone());
        }
        Ok(Model {
            schema,
            policies,
            actions,
            literal_uids,
            catalog,
            plan_entities,
            origins,
            version: hex::encode(hash.finalize()),
            files,
        })
    }

    /// Whether the schema declares this action.
    pub fn action(&self, uid: &EntityUid) -> Option<&ActionModel> {
        self.actions.get(uid)
    }
}

/// Renders a cedar diagnostic with its help text when it has one.
fn render(e: &dyn miette::Diagnostic) -> String {
    match e.help() {
        Some(h) => format!("{e} ({h})"),
        None => e.to_string(),
    }
}

fn gate_of(p: &Policy) -> Result<Option<Gate>> {
    let Some(kind) = p.annotation("gate") else {
        return Ok(None);
    };
    let id = p.id().to_string();
    if p.effect() != Effect::Forbid {
        return Err(Error::PolicyLoad(format!(
            "plan gate `{id}` must be a `forbid` policy"
        )));
    }
    match kind {
        "feature" => match p.annotation("feature") {
            Some(f) => Ok(Some(Gate::Feature(f.to_string()))),
            None => Err(Error::PolicyLoad(format!(
                "plan gate `{id}` needs `@feature(\"...\")`"
            ))),
        },
        "limit" => match p.annotation("resource_type") {
            Some(rt) if crate::billing::is_resource_type(rt) => {
                Ok(Some(Gate::Limit(rt.to_string())))
            }
            _ => Err(Error::PolicyLoad(format!(
                "plan gate `{id}` needs `@resource_type(\"kind:name\")`"
            ))),
        },
        other => Err(Error::PolicyLoad(format!(
            "plan gate `{id}` has unknown kind `{other}` (expected `feature` or `limit`)"
        ))),
    }
}

fn action_models(schema: &Schema, policies: &PolicySet) -> Result<HashMap<EntityUid, ActionModel>> {
    let action_entities = schema
        .action_entities()
        .map_err(|e| Error::PolicyLoad(format!("schema actions: {e}")))?;
    let mut gates = HashMap::new();
    for p in policies.policies() {
        if let Some(g) = gate_of(p)? {
            gates.insert(p.id().clone(), g);
        }
    }
    let mut out = HashMap::new();
    for action in schema.actions() {
        let mut lineage: HashSet<EntityUid> = action_entities
            .ancestors(action)
            .map(|a| a.cloned().collect())
            .unwrap_or_default();
        let mut entities: Vec<Entity> = lineage
            .iter()
            .filter_map(|u| action_entities.get(u).cloned())
            .collect();
        if let Some(e) = action_entities.get(action) {
            entities.push(e.clone());
        }
        lineage.insert(action.clone());
        let mut all = PolicySet::new();
        let mut role = PolicySet::new();
        let mut action_gates = HashMap::new();
        for p in policies.policies() {
            let applies = match p.action_constraint() {
                ActionConstraint::Any => true,
                ActionConstraint::Eq(a) => &a == action,
                ActionConstraint::In(list) => list.iter().any(|a| lineage.contains(a)),
            };
            if !applies {
                continue;
            }
            let add = |set: &mut PolicySet| {
                set.add(p.clone())
                    .map_err(|e| Error::PolicyLoad(format!("policy `{}`: {e}", p.id())))
            };
            add(&mut all)?;
            match gates.get(p.id()) {
                Some(g) => {
                    action_gates.insert(p.id().clone(), g.clone());
                }
                None => add(&mut role)?,
            }
        }
        out.insert(
            action.clone(),
            ActionModel {
                entities,
                policies: all,
                role_policies: role,
                gates: action_gates,
            },
        );
    }
    Ok(out)
}

/// `Plan::"<tier>"`: features as an attribute, limits as tags (absent tag = unlimited).
fn plan_entity(tier: &crate::billing::Tier) -> Result<Entity> {
    let uid = super::uid("Plan", &tier.name)?;
    let attrs = [
        (
            "name".to_string(),
            RestrictedExpression::new_string(tier.name.clone()),
        ),
        (
            "features".to_string(),
            RestrictedExpression::new_set(
                tier.features
                    .iter()
                    .map(|f| RestrictedExpression::new_string(f.clone())),
            ),
        ),
    ];
    let tags = tier
        .limits
        .iter()
        .map(|(rt, l)| (rt.clone(), RestrictedExpression::new_long(*l)));
    Entity::new_with_tags(uid, attrs, [], tags).map_err(|e| Error::Internal(e.to_string()))
}
