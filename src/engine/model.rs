//! A loaded model: schema, validated policies, plan catalog, and everything precomputed from
//! them so that a decision does no work that depends only on the files.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
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

    /// Hex SHA-256 over every input's name and text: equal versions, equal models.
    pub fn version(&self) -> String {
        let mut hash = Sha256::new();
        for s in self.policies.iter().chain([&self.schema, &self.catalog]) {
            hash.update(s.name.as_bytes());
            hash.update([0]);
            hash.update(s.text.as_bytes());
            hash.update([0]);
        }
        hex::encode(hash.finalize())
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
    /// Whether any of `policies` reads an entity's tags (`getTag`, `hasTag`): an org's usage
    /// lives in its tags, so only such a decision depends on the app usage counters. Cedar
    /// names attributes literally and reaches tags only through these two operators, so a
    /// policy whose text names neither cannot read usage (over-approximated: any mention
    /// counts, even in a string).
    pub reads_tags: bool,
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
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl Model {
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
        let named = named_by_policies(&policies);
        let (errors, catalog_warnings) =
            check_catalog(&named, &origins, &catalog, &src.catalog.name);
        if !errors.is_empty() {
            return Err(Error::PolicyLoad(errors.join("\n")));
        }
        warnings.extend(catalog_warnings);
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
        let files = src
            .policies
            .iter()
            .chain([&src.schema, &src.catalog])
            .map(|s| s.name.clone())
            .collect();
        let declared: HashSet<String> = schema.entity_types().map(|t| t.to_string()).collect();
        let org_model = ["Org", "Plan", "RoleSet"]
            .iter()
            .all(|t| declared.contains(*t));
        static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let builtin_roles =
            super::slice::role_set_entity(super::slice::BUILTIN_ROLES, &catalog.roles)?;
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
        })
    }

    /// The forbids of `old` that this model drops or changes, each named with its file and
    /// line: a hot reload that loses one is refused unless the admin forces it.
    ///
    /// A deleted, emptied or half-saved file is still a valid set, and any `forbid` it loses
    /// (a plan gate among them) is an allow; a lost or narrowed `permit` only closes access,
    /// so a set that differs only in permits always loads. A forbid with an `@id` is matched
    /// by it and must be unchanged; one without is matched by its text (its `file:index` id
    /// shifts with the policies before it), normalized through Cedar's JSON form.
    pub fn forbids_lost_from(&self, old: &Model) -> Vec<String> {
        let new = Forbids::of(self);
        let old_forbids = Forbids::of(old);
        let mut out = Vec::new();
        for f in &old_forbids.all {
            let at = match old.origins.get(&f.id) {
                Some(o) => format!("{}:{}", o.file, o.line),
                None => "?".into(),
            };
            let twin = match &f.annotated_id {
                Some(id) => match new.by_id.get(id) {
                    None => Err("is gone"),
                    Some((text, _)) if *text != f.text => Err("is changed"),
                    Some((_, twin)) => Ok(twin),
                },
                None => new.bare.get(&f.bare).ok_or("is gone or changed"),
            };
            match twin {
                Err(how) => out.push(format!("the forbid `{}` ({at}) {how}", f.id)),
                // The same text, but the schema may have taken actions out of its scope (an
                // action group it names no longer holds them): it stops applying to those.
                Ok(twin) => {
                    let now = new.actions.get(twin);
                    let dropped: Vec<&String> = old_forbids
                        .actions
                        .get(&f.id)
                        .into_iter()
                        .flatten()
                        .filter(|a| self.actions.keys().any(|k| k.to_string() == **a))
                        .filter(|a| !now.is_some_and(|n| n.contains(*a)))
                        .collect();
                    if !dropped.is_empty() {
                        let names: Vec<String> = dropped.iter().map(|a| format!("`{a}`")).collect();
                        out.push(format!(
                            "the forbid `{}` ({at}) no longer applies to {}",
                            f.id,
                            names.join(", ")
                        ));
                    }
                }
            }
        }
        out
    }

    /// One line: how much the model holds.
    pub fn summary(&self) -> String {
        format!(
            "{} policies, {} entity types, {} actions, {} tiers",
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

use super::render;

/// The forbids of a model, for [`Model::forbids_lost_from`].
struct Forbids {
    all: Vec<ForbidText>,
    /// `@id` -> (normalized text with annotations, policy id).
    by_id: HashMap<String, (String, String)>,
    /// Normalized text without annotations -> policy id, of every forbid.
    bare: HashMap<String, String>,
    /// Policy id -> the actions (rendered uids) whose policy slice holds it.
    actions: HashMap<String, BTreeSet<String>>,
}

struct ForbidText {
    id: String,
    annotated_id: Option<String>,
    text: String,
    bare: String,
}

impl Forbids {
    fn of(m: &Model) -> Forbids {
        let mut out = Forbids {
            all: Vec::new(),
            by_id: HashMap::new(),
            bare: HashMap::new(),
            actions: HashMap::new(),
        };
        for (action, am) in &m.actions {
            for p in am
                .policies
                .policies()
                .filter(|p| p.effect() == Effect::Forbid)
            {
                out.actions
                    .entry(p.id().to_string())
                    .or_default()
                    .insert(action.to_string());
            }
        }
        for p in m
            .policies
            .policies()
            .filter(|p| p.effect() == Effect::Forbid)
        {
            let (text, bare) = match p.to_json() {
                Ok(mut est) => {
                    let text = est.to_string();
                    if let serde_json::Value::Object(o) = &mut est {
                        o.remove("annotations");
                    }
                    (text, est.to_string())
                }
                Err(_) => (p.to_string(), p.to_string()),
            };
            let annotated_id = p.annotation("id").map(str::to_string);
            if let Some(id) = &annotated_id {
                out.by_id
                    .insert(id.clone(), (text.clone(), p.id().to_string()));
            }
            out.bare.insert(bare.clone(), p.id().to_string());
            out.all.push(ForbidText {
                id: p.id().to_string(),
                annotated_id,
                text,
                bare,
            });
        }
        out
    }
}

/// Renders a diagnostic against its file the way compilers do: file, line, column and a caret
/// excerpt (miette's graphical report, without colours so it reads the same in logs).
pub fn diagnostic<D: miette::Diagnostic + Send + Sync + 'static>(
    d: D,
    name: &str,
    text: &str,
) -> String {
    let report =
        miette::Report::new(d).with_source_code(miette::NamedSource::new(name, text.to_string()));
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100);
    let mut out = String::new();
    match handler.render_report(&mut out, report.as_ref()) {
        // Cedar's diagnostics carry their own (unnamed) source, which wins over ours; put the
        // file name into the location line so `file:line:col` always reads whole.
        Ok(()) if !out.contains(&format!("[{name}:")) => {
            out.trim_end().replace("╭─[", &format!("╭─[{name}:"))
        }
        Ok(()) => out.trim_end().to_string(),
        Err(_) => format!("{name}: {report}"),
    }
}

/// Catalog features and resource types named by policies, each with the id of the first
/// policy that names it (for error locations).
#[derive(Debug, Default)]
pub struct Named {
    /// Feature name -> policy id.
    pub features: BTreeMap<String, String>,
    /// Resource type (`kind:name`) -> policy id.
    pub resource_types: BTreeMap<String, String>,
}

/// What the policies name: features in `@feature` and `.features.contains("...")`, resource
/// types in `@resource_type` and in `hasTag`/`getTag` literals shaped like `kind:name`.
fn named_by_policies(policies: &PolicySet) -> Named {
    type Names = BTreeMap<String, String>;
    fn walk(v: &serde_json::Value, id: &str, features: &mut Names, types: &mut Names) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::Object(c)) = m.get("contains") {
                    let on_features = c
                        .get("left")
                        .and_then(|l| l.get("."))
                        .and_then(|d| d.get("attr"))
                        .and_then(|a| a.as_str())
                        == Some("features");
                    if let (true, Some(f)) = (
                        on_features,
                        c.get("right")
                            .and_then(|r| r.get("Value"))
                            .and_then(|v| v.as_str()),
                    ) {
                        features
                            .entry(f.to_string())
                            .or_insert_with(|| id.to_string());
                    }
                }
                for op in ["hasTag", "getTag"] {
                    if let Some(t) = m
                        .get(op)
                        .and_then(|c| c.get("right"))
                        .and_then(|r| r.get("Value"))
                        .and_then(|v| v.as_str())
                    {
                        if crate::billing::is_resource_type(t) {
                            types.entry(t.to_string()).or_insert_with(|| id.to_string());
                        }
                    }
                }
                m.values().for_each(|x| walk(x, id, features, types));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, id, features, types)),
            _ => {}
        }
    }
    let mut features = Names::new();
    let mut types = Names::new();
    for p in policies.policies() {
        let id = p.id().to_string();
        if let Some(f) = p.annotation("feature") {
            features.entry(f.to_string()).or_insert_with(|| id.clone());
        }
        if let Some(t) = p.annotation("resource_type") {
            types.entry(t.to_string()).or_insert_with(|| id.clone());
        }
        if let Ok(est) = p.to_json() {
            walk(&est, &id, &mut features, &mut types);
        }
    }
    Named {
        features,
        resource_types: types,
    }
}

/// Checks the catalog against the policies: a feature or resource type a policy names but the
/// catalog lacks is an error (that gate could never open); the reverse is a warning.
fn check_catalog(
    named: &Named,
    origins: &HashMap<String, PolicyOrigin>,
    catalog: &Catalog,
    name: &str,
) -> (Vec<String>, Vec<String>) {
    let (features, types) = (&named.features, &named.resource_types);
    // `file:line: ` of the policy that names it, so the admin lands on the line to fix.
    let at = |id: &str| match origins.get(id) {
        Some(o) if o.line > 0 => format!("{}:{}: policy `{id}`", o.file, o.line),
        Some(o) => format!("{}: policy `{id}`", o.file),
        None => format!("policy `{id}`"),
    };
    let known_features = catalog.features();
    let known_types: BTreeSet<&str> = catalog.resource_types.iter().map(String::as_str).collect();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for (f, id) in features {
        if !known_features.contains(f.as_str()) {
            errors.push(format!(
                "error: {} names the feature `{f}`, which no tier of `{name}` has",
                at(id)
            ));
        }
    }
    for (t, id) in types {
        if !known_types.contains(t.as_str()) {
            errors.push(format!(
                "error: {} names the resource type `{t}`, which `{name}` does not list",
                at(id)
            ));
        }
    }
    for f in known_features {
        if !features.contains_key(f) {
            warnings.push(format!(
                "warning: the feature `{f}` of `{name}` is named by no policy"
            ));
        }
    }
    for t in known_types {
        if !types.contains_key(t) {
            warnings.push(format!(
                "warning: the resource type `{t}` of `{name}` is named by no policy"
            ));
        }
    }
    (errors, warnings)
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
        let mut reads_tags = false;
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
            let text = p.to_string();
            reads_tags |= text.contains("getTag") || text.contains("hasTag");
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
                reads_tags,
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
