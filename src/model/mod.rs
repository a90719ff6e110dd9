//! The validated policy set: schema, policies checked against it, the plan catalog checked
//! against the policies, and everything precomputed from them (per-action slices, plan and
//! role entities, a version hash) so that a decision does no work that depends only on files.
//! Immutable: a reload builds a new one and swaps it in.

mod actions;
mod catalog_check;
mod diagnostics;
mod entities;
mod guard;
mod sources;

pub use actions::{ActionModel, Gate};
pub use diagnostics::{diagnostic, render};
pub use entities::{role_set_entity, uid, BUILTIN_ROLES};
pub use sources::{ModelPaths, ModelSources, Source, EMBEDDED_POLICIES, EMBEDDED_SCHEMA};

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{
    Entity, EntityUid, Policy, PolicyId, PolicySet, Schema, ValidationMode, Validator,
};

use crate::error::{Error, Result};
use crate::forward::{ContextTypes, RouteTable};
use crate::plans::Catalog;

/// Upper bound on entities in one slice: a policy graph deeper than this is a modelling error,
/// and failing closed beats reading half the store.
pub const MAX_SLICE: usize = 10_000;

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
    /// The role set of every org without custom roles: the catalog's built-in roles.
    pub builtin_roles: Entity,
    /// Where each policy came from.
    pub origins: HashMap<String, PolicyOrigin>,
    /// Hex SHA-256 over every input text.
    pub version: String,
    /// Input file names.
    pub files: Vec<String>,
    /// Entity types the schema declares.
    pub entity_types: usize,
    /// Rendered warnings (schema, validator, catalog entries no policy names).
    pub warnings: Vec<String>,
    /// Unique per build, so caches can tell one loaded model from the next.
    pub generation: u64,
    /// Whether the schema is built on Tollgate's org model (declares `Org`, `Plan` and
    /// `RoleSet`): then those types and the `User` views come from the store only.
    pub org_model: bool,
    /// The forward-auth route table, checked against this schema, when a route file is
    /// configured: it loads, reloads and fails with the policies.
    pub routes: Option<Arc<RouteTable>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl Model {
    /// Reads the model's files (or the embedded defaults) and builds it.
    pub fn load(paths: &ModelPaths) -> Result<Model> {
        Model::build(&ModelSources::read(paths)?)
    }

    /// Parses and strictly validates a model: schema, policies against the schema, and the plan
    /// catalog against the policies. Errors are rendered with file, line, column and a caret
    /// excerpt, all of them at once.
    pub fn build(src: &ModelSources) -> Result<Model> {
        let mut warnings = Vec::new();
        let schema = if src.schema.name.ends_with(".json") {
            Schema::from_json_str(&src.schema.text)
                .map_err(|e| Error::PolicyLoad(diagnostic(e, &src.schema.name, &src.schema.text)))?
        } else {
            let (s, schema_warnings) =
                Schema::from_cedarschema_str(&src.schema.text).map_err(|e| {
                    Error::PolicyLoad(diagnostic(e, &src.schema.name, &src.schema.text))
                })?;
            warnings
                .extend(schema_warnings.map(|w| diagnostic(w, &src.schema.name, &src.schema.text)));
            s
        };
        let mut policies = PolicySet::new();
        let mut origins = HashMap::new();
        let mut problems = Vec::new();
        for file in &src.policies {
            let parsed = match PolicySet::from_str(&file.text) {
                Ok(p) => p,
                Err(e) => {
                    problems.push(diagnostic(e, &file.name, &file.text));
                    continue;
                }
            };
            if parsed.templates().next().is_some() {
                problems.push(format!(
                    "error: `{}` holds a template; templates are not supported",
                    file.name
                ));
                continue;
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
                if let Some(first) = origins.get(&id) {
                    let PolicyOrigin { file: f, line: l } = first;
                    problems.push(format!(
                        "error: policy id `{id}` at {}:{line} is already used at {f}:{l}",
                        file.name
                    ));
                    continue;
                }
                origins.insert(
                    id.clone(),
                    PolicyOrigin {
                        file: file.name.clone(),
                        line,
                    },
                );
                if let Err(e) = policies.add(p.new_id(PolicyId::new(&id))) {
                    problems.push(format!("error: policy `{id}`: {e}"));
                }
            }
        }
        if !problems.is_empty() {
            return Err(Error::PolicyLoad(problems.join("\n")));
        }
        let validation = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        let source_of = |id: &PolicyId| {
            origins
                .get(&id.to_string())
                .and_then(|o| src.policies.iter().find(|f| f.name == o.file))
        };
        for e in validation.validation_errors() {
            problems.push(match source_of(e.policy_id()) {
                Some(f) => diagnostic(e.clone(), &f.name, &f.text),
                None => format!("error: {}", render(e)),
            });
        }
        if !problems.is_empty() {
            return Err(Error::PolicyLoad(problems.join("\n")));
        }
        for w in validation.validation_warnings() {
            warnings.push(match source_of(w.policy_id()) {
                Some(f) => diagnostic(w.clone(), &f.name, &f.text),
                None => format!("warning: {}", render(w)),
            });
        }
        let catalog = Arc::new(Catalog::parse(&src.catalog.text, &src.catalog.name)?);
        let named = catalog_check::named_by_policies(&policies);
        let (errors, catalog_warnings) =
            catalog_check::check_catalog(&named, &origins, &catalog, &src.catalog.name);
        if !errors.is_empty() {
            return Err(Error::PolicyLoad(errors.join("\n")));
        }
        warnings.extend(catalog_warnings);
        let routes = match &src.routes {
            None => None,
            Some(r) => {
                let contexts = ContextTypes::read(&src.schema.name, &src.schema.text)
                    .map_err(|e| Error::PolicyLoad(format!("error: {}: {e}", src.schema.name)))?;
                let table = RouteTable::build(&r.name, &r.text, &schema, &contexts)
                    .map_err(|p| Error::PolicyLoad(format!("error: {}", p.join("\nerror: "))))?;
                Some(Arc::new(table))
            }
        };
        let actions = actions::action_models(&schema, &policies)?;
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
            .map(|t| Ok((t.name.clone(), entities::plan_entity(t)?)))
            .collect::<Result<_>>()?;
        let files = src
            .policies
            .iter()
            .chain([&src.schema, &src.catalog])
            .chain(src.routes.as_ref())
            .map(|s| s.name.clone())
            .collect();
        let declared: HashSet<String> = schema.entity_types().map(|t| t.to_string()).collect();
        let org_model = ["Org", "Plan", "RoleSet"]
            .iter()
            .all(|t| declared.contains(*t));
        static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let builtin_roles = role_set_entity(BUILTIN_ROLES, &catalog.roles)?;
        Ok(Model {
            builtin_roles,
            generation: GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            org_model,
            entity_types: schema.entity_types().count(),
            schema,
            policies,
            actions,
            literal_uids,
            catalog,
            plan_entities,
            origins,
            version: src.version(),
            files,
            warnings,
            routes,
        })
    }

    /// One line: how much the model holds.
    pub fn summary(&self) -> String {
        let routes = self
            .routes
            .as_ref()
            .map_or(String::new(), |r| format!(", {} routes", r.len()));
        format!(
            "{} policies, {} entity types, {} actions, {} tiers{routes}",
            self.policies.policies().count(),
            self.entity_types,
            self.actions.len(),
            self.catalog.tiers().len()
        )
    }

    /// Whether the schema declares this action.
    pub fn action(&self, uid: &EntityUid) -> Option<&ActionModel> {
        self.actions.get(uid)
    }
}
