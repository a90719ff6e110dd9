//! The route file: method, path pattern and host of an original request → the action, resource
//! (and its parents, for resources the store lacks) and context of a Cedar request. Parsed and
//! checked against the schema once per file version, each pattern compiled by `matchit`; the
//! first route that matches wins and an unmatched request is never an allow.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use cedar_policy::{EntityId, EntityTypeName, EntityUid, Schema};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::context_types::{ContextKey, ContextKind, ContextTypes};
use super::path::Target;
use crate::error::{Code, Error, Result};

/// What an unmatched request is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmatched {
    /// 403 `NO_ROUTE` (the default).
    Forbidden,
    /// 404 `NOT_FOUND`.
    NotFound,
}

/// The compiled route file of one model generation.
#[derive(Debug)]
pub struct RouteTable {
    routes: Vec<Route>,
    /// Where the file came from (for messages).
    pub file: String,
    /// The principal type identities are read as.
    pub principal_type: EntityTypeName,
    /// What an unmatched request gets.
    pub unmatched: Unmatched,
    /// Every header any route reads (lower case, sorted): with the method, URI, host and
    /// identity, they determine what a request maps to, so they make its cache key.
    pub headers: Vec<String>,
}

/// The original request as the proxy reports it.
pub struct Original<'a> {
    /// Method, upper case.
    pub method: &'a str,
    /// Path (checked and decoded) and query.
    pub target: &'a Target,
    /// The original host, when the convention carries one.
    pub host: Option<&'a str>,
    /// Every value of a header of the subrequest, by lower-case name.
    pub header: &'a dyn Fn(&str) -> Vec<String>,
}

/// A matched route, ready for the engine: the principal is the caller's to add.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    /// The route's line in its file.
    pub line: usize,
    /// The action.
    pub action: EntityUid,
    /// The resource.
    pub resource: EntityUid,
    /// The context (a JSON object).
    pub context: Value,
    /// The resource as a request entity with its parents, when the route names parents.
    pub entities: Vec<Value>,
}

#[derive(Debug)]
struct Route {
    line: usize,
    /// `None`: any method.
    methods: Option<Vec<String>>,
    host: Option<String>,
    matcher: matchit::Router<()>,
    action: EntityUid,
    resource: UidTemplate,
    parents: Vec<UidTemplate>,
    context: Vec<(String, ContextValue)>,
}

#[derive(Debug)]
struct UidTemplate {
    ty: EntityTypeName,
    id: Template,
}

#[derive(Debug)]
enum ContextValue {
    Filled(Template, ContextKind, bool),
    Constant(Value),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Path(String),
    Query(String),
    Header(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Template(Vec<Piece>);

// The file's shape.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    principal_type: Option<String>,
    unmatched: Option<u16>,
    #[serde(default)]
    route: Vec<toml::Spanned<RouteSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSpec {
    method: Methods,
    path: String,
    host: Option<String>,
    action: String,
    resource: UidSpec,
    #[serde(default)]
    parents: Vec<UidSpec>,
    #[serde(default)]
    context: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Methods {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum UidSpec {
    Text(String),
    Object(UidObject),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UidObject {
    #[serde(rename = "type")]
    ty: String,
    id: String,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

impl Template {
    /// Parses `text-{param}-{query.x}-{header.y}`; `{{` and `}}` are literal braces.
    fn parse(s: &str, params: &BTreeSet<String>) -> std::result::Result<Template, String> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(if let Some(q) = name.strip_prefix("query.") {
                        if q.is_empty() {
                            return Err(format!("`{{{name}}}` names no query parameter"));
                        }
                        Piece::Query(q.to_string())
                    } else if let Some(h) = name.strip_prefix("header.") {
                        if h.is_empty() || !h.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                            return Err(format!("`{{{name}}}` is not a header name"));
                        }
                        Piece::Header(h.to_ascii_lowercase())
                    } else if params.contains(&name) {
                        Piece::Path(name)
                    } else {
                        return Err(format!(
                            "`{{{name}}}` is neither a parameter of the path, nor `query.NAME`, \
                             nor `header.NAME`"
                        ));
                    });
                }
                '}' => return Err("a `}` closes nothing (write `}}` for a literal one)".into()),
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Template(pieces))
    }

    /// Fills the template; `None` when a query parameter or header it names is absent. One
    /// given twice is refused: the app behind the proxy may read the other value (many
    /// frameworks take the last), so no value can be the one judged.
    fn fill(&self, params: &matchit::Params<'_, '_>, o: &Original<'_>) -> Result<Option<String>> {
        let once = |values: Vec<String>, what: String| match <[String; 1]>::try_from(values) {
            Ok([v]) => Ok(Some(v)),
            Err(v) if v.is_empty() => Ok(None),
            Err(_) => Err(Error::new(
                Code::InvalidRouteValue,
                format!("{what} is given more than once; a route reads one value"),
            )),
        };
        let mut out = String::new();
        for p in &self.0 {
            let value = match p {
                Piece::Text(t) => Some(t.clone()),
                Piece::Path(n) => params.get(n).map(str::to_string),
                Piece::Query(q) => {
                    once(o.target.query_values(q), format!("query parameter `{q}`"))?
                }
                Piece::Header(h) => once((o.header)(h), format!("header `{h}`"))?,
            };
            match value {
                Some(v) => out.push_str(&v),
                None => return Ok(None),
            }
        }
        Ok(Some(out))
    }

    fn describe(&self) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.clone(),
                Piece::Path(n) => format!("{{{n}}}"),
                Piece::Query(q) => format!("{{query.{q}}}"),
                Piece::Header(h) => format!("{{header.{h}}}"),
            })
            .collect()
    }
}

/// The parameter names of a `matchit` pattern (`{name}` and `{*rest}`).
fn pattern_params(pattern: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        if rest[open..].starts_with("{{") {
            rest = &rest[open + 2..];
            continue;
        }
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let name = &rest[open + 1..open + close];
        out.insert(name.trim_start_matches('*').to_string());
        rest = &rest[open + close + 1..];
    }
    out
}

/// Checks one route against the schema and compiles it.
struct Compiler<'a> {
    schema: &'a Schema,
    contexts: &'a ContextTypes,
    principal_type: &'a EntityTypeName,
}

impl Compiler<'_> {
    fn action(&self, name: &str) -> std::result::Result<EntityUid, String> {
        if name.contains("::") {
            let uid = EntityUid::from_str(name)
                .map_err(|_| format!("`{name}` is not an action uid (`Action::\"name\"`)"))?;
            return if self.schema.actions().any(|a| *a == uid) {
                Ok(uid)
            } else {
                Err(format!("the schema declares no action `{uid}`"))
            };
        }
        let found: Vec<&EntityUid> = self
            .schema
            .actions()
            .filter(|a| a.id().unescaped() == name)
            .collect();
        match found.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(format!("the schema declares no action `{name}`")),
            many => Err(format!(
                "`{name}` names {} actions in different namespaces; write its uid",
                many.len()
            )),
        }
    }

    fn entity_type(&self, t: &str) -> std::result::Result<EntityTypeName, String> {
        let ty = EntityTypeName::from_str(t).map_err(|_| format!("`{t}` is not a type name"))?;
        if self.schema.entity_types().any(|e| *e == ty) {
            Ok(ty)
        } else {
            Err(format!("the schema declares no entity type `{ty}`"))
        }
    }

    fn uid(
        &self,
        spec: &UidSpec,
        params: &BTreeSet<String>,
    ) -> std::result::Result<UidTemplate, String> {
        let (ty, id) = match spec {
            UidSpec::Object(o) => (o.ty.clone(), o.id.clone()),
            UidSpec::Text(t) => {
                // `Type::"id-template"`: the id between the first `::"` and the closing `"`.
                let Some((ty, rest)) = t.rsplit_once("::\"") else {
                    return Err(format!(
                        "`{t}` is neither `Type::\"id\"` nor {{ type = ..., id = ... }}"
                    ));
                };
                let Some(id) = rest.strip_suffix('"') else {
                    return Err(format!("`{t}` does not end with `\"`"));
                };
                (ty.to_string(), id.to_string())
            }
        };
        Ok(UidTemplate {
            ty: self.entity_type(&ty)?,
            id: Template::parse(&id, params)?,
        })
    }

    fn route(&self, spec: &RouteSpec, line: usize) -> std::result::Result<Route, String> {
        let methods = match &spec.method {
            Methods::One(m) if m == "*" => None,
            Methods::One(m) => Some(vec![m.clone()]),
            Methods::Many(ms) if ms.iter().any(|m| m == "*") => None,
            Methods::Many(ms) => Some(ms.clone()),
        };
        if let Some(ms) = &methods {
            if ms.is_empty() {
                return Err("`method` lists no method".into());
            }
            if let Some(m) = ms
                .iter()
                .find(|m| m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()))
            {
                return Err(format!(
                    "method `{m}` is not an upper-case HTTP method (or `*`)"
                ));
            }
        }
        if !spec.path.starts_with('/') {
            return Err(format!("path `{}` does not start with `/`", spec.path));
        }
        let mut matcher = matchit::Router::new();
        matcher
            .insert(spec.path.clone(), ())
            .map_err(|e| format!("path `{}`: {e}", spec.path))?;
        let params = pattern_params(&spec.path);
        let action = self.action(&spec.action)?;
        let resource = self.uid(&spec.resource, &params)?;
        let takes = |types: Option<Box<dyn Iterator<Item = &EntityTypeName> + '_>>,
                     ty: &EntityTypeName| {
            types.is_some_and(|mut it| it.any(|t| t == ty))
        };
        let principals = self
            .schema
            .principals_for_action(&action)
            .map(|i| Box::new(i) as Box<dyn Iterator<Item = &EntityTypeName>>);
        if !takes(principals, self.principal_type) {
            return Err(format!(
                "`{action}` does not apply to principals of type `{}`",
                self.principal_type
            ));
        }
        let resources = self
            .schema
            .resources_for_action(&action)
            .map(|i| Box::new(i) as Box<dyn Iterator<Item = &EntityTypeName>>);
        if !takes(resources, &resource.ty) {
            return Err(format!(
                "`{action}` does not apply to resources of type `{}`",
                resource.ty
            ));
        }
        let mut parents = Vec::with_capacity(spec.parents.len());
        for p in &spec.parents {
            let p = self.uid(p, &params)?;
            let ancestors = self
                .schema
                .ancestors(&resource.ty)
                .map(|i| Box::new(i) as Box<dyn Iterator<Item = &EntityTypeName>>);
            if !takes(ancestors, &p.ty) {
                return Err(format!(
                    "a `{}` cannot have a parent of type `{}`",
                    resource.ty, p.ty
                ));
            }
            parents.push(p);
        }
        let declared = self.contexts.of(&action);
        let mut context = Vec::with_capacity(spec.context.len());
        for (key, v) in &spec.context {
            let Some(ContextKey { kind, required }) = declared.and_then(|d| d.get(key)) else {
                return Err(format!(
                    "context key `{key}` is not in the context type of `{action}`"
                ));
            };
            let value = match (v, kind) {
                (toml::Value::String(s), ContextKind::Other(t)) => {
                    return Err(format!(
                        "context key `{key}` is of type {t}; a route fills only String, Long, \
                         Bool and entity values (`{s}`)"
                    ))
                }
                (toml::Value::String(s), _) => {
                    ContextValue::Filled(Template::parse(s, &params)?, kind.clone(), *required)
                }
                (toml::Value::Integer(i), ContextKind::Long) => ContextValue::Constant(json!(i)),
                (toml::Value::Boolean(b), ContextKind::Bool) => ContextValue::Constant(json!(b)),
                (other, kind) => {
                    return Err(format!(
                        "context key `{key}` is a {} here and a {} in the schema",
                        other.type_str(),
                        kind.describe()
                    ))
                }
            };
            context.push((key.clone(), value));
        }
        Ok(Route {
            line,
            methods,
            host: match &spec.host {
                Some(h) => Some(
                    super::path::normalize_host(h)
                        .map_err(|_| format!("host `{h}` is not a host name or `host:port`"))?,
                ),
                None => None,
            },
            matcher,
            action,
            resource,
            parents,
            context,
        })
    }
}

impl RouteTable {
    /// Parses and checks a route file against the schema: every problem as `file:line: ...`.
    pub fn build(
        file: &str,
        text: &str,
        schema: &Schema,
        contexts: &ContextTypes,
    ) -> std::result::Result<RouteTable, Vec<String>> {
        let spec: FileSpec = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(text, s.start));
            vec![format!("{file}:{line}: {}", e.message())]
        })?;
        let t = spec.principal_type.as_deref().unwrap_or("User");
        let principal_type = match EntityTypeName::from_str(t) {
            Ok(ty) if schema.entity_types().any(|e| *e == ty) => ty,
            _ => {
                return Err(vec![format!(
                    "{file}:1: principal_type `{t}` is not an entity type of the schema"
                )])
            }
        };
        let unmatched = match spec.unmatched {
            None | Some(403) => Unmatched::Forbidden,
            Some(404) => Unmatched::NotFound,
            Some(n) => {
                return Err(vec![format!(
                    "{file}:1: unmatched = {n}: an unmatched request is answered 403 or 404, never anything else"
                )])
            }
        };
        let compiler = Compiler {
            schema,
            contexts,
            principal_type: &principal_type,
        };
        let mut routes = Vec::with_capacity(spec.route.len());
        let mut problems = Vec::new();
        for r in &spec.route {
            let line = line_of(text, r.span().start);
            match compiler.route(r.get_ref(), line) {
                Ok(route) => routes.push(route),
                Err(e) => problems.push(format!("{file}:{line}: {e}")),
            }
        }
        if routes.is_empty() && problems.is_empty() {
            problems.push(format!("{file}:1: the file declares no [[route]]"));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut headers: Vec<String> = routes.iter().flat_map(Route::headers).collect();
        headers.sort();
        headers.dedup();
        Ok(RouteTable {
            headers,
            routes,
            file: file.to_string(),
            principal_type,
            unmatched,
        })
    }

    /// How many routes the table holds.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether the table is empty (a built table never is).
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The first route matching `o`, filled in; `Ok(None)` when none matches.
    pub fn resolve(&self, o: &Original<'_>) -> Result<Option<Mapped>> {
        // `o.host` is normalized (`normalize_host`), and so are the routes' hosts.
        let host = o.host;
        for r in &self.routes {
            if let Some(ms) = &r.methods {
                if !ms.iter().any(|m| m == o.method) {
                    continue;
                }
            }
            if let Some(want) = &r.host {
                let Some(got) = host else { continue };
                // A pattern without a port matches the host on any port.
                let bare = match got.rsplit_once(':') {
                    Some((h, port))
                        if !want.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        h
                    }
                    _ => got,
                };
                if bare != want {
                    continue;
                }
            }
            let Ok(m) = r.matcher.at(&o.target.path) else {
                continue;
            };
            return r.fill(&m.params, o).map(Some);
        }
        Ok(None)
    }
}

impl Route {
    /// The headers this route's templates read.
    fn headers(&self) -> Vec<String> {
        let templates = std::iter::once(&self.resource.id)
            .chain(self.parents.iter().map(|p| &p.id))
            .chain(self.context.iter().filter_map(|(_, v)| match v {
                ContextValue::Filled(t, ..) => Some(t),
                ContextValue::Constant(_) => None,
            }));
        templates
            .flat_map(|t| t.0.iter())
            .filter_map(|p| match p {
                Piece::Header(h) => Some(h.clone()),
                _ => None,
            })
            .collect()
    }

    fn fill(&self, params: &matchit::Params<'_, '_>, o: &Original<'_>) -> Result<Mapped> {
        let uid = |t: &UidTemplate, what: &str| -> Result<EntityUid> {
            let id = t.id.fill(params, o)?.ok_or_else(|| {
                Error::new(
                    Code::InvalidRouteValue,
                    format!(
                        "the route at line {} needs `{}` for the {what}, and the request lacks it",
                        self.line,
                        t.id.describe()
                    ),
                )
            })?;
            Ok(EntityUid::from_type_name_and_id(
                t.ty.clone(),
                EntityId::new(id),
            ))
        };
        let resource = uid(&self.resource, "resource")?;
        let mut context = Map::with_capacity(self.context.len());
        for (key, v) in &self.context {
            let value = match v {
                ContextValue::Constant(c) => c.clone(),
                ContextValue::Filled(t, kind, required) => {
                    // An absent query parameter or header leaves an optional key out; a
                    // required one makes the request one the route cannot map.
                    let Some(s) = t.fill(params, o)? else {
                        if *required {
                            return Err(Error::new(
                                Code::InvalidRouteValue,
                                format!(
                                    "the route at line {} needs `{}` for context key `{key}`, \
                                     and the request lacks it",
                                    self.line,
                                    t.describe()
                                ),
                            ));
                        }
                        continue;
                    };
                    kind.value(&s).ok_or_else(|| {
                        Error::new(
                            Code::InvalidRouteValue,
                            format!(
                                "context key `{key}` must be a {} (route at line {})",
                                kind.describe(),
                                self.line
                            ),
                        )
                    })?
                }
            };
            context.insert(key.clone(), value);
        }
        let entities = if self.parents.is_empty() {
            Vec::new()
        } else {
            let mut parents = Vec::with_capacity(self.parents.len());
            for p in &self.parents {
                let u = uid(p, "parent")?;
                parents.push(json!({"type": u.type_name().to_string(), "id": u.id().unescaped()}));
            }
            vec![json!({
                "uid": {"type": resource.type_name().to_string(), "id": resource.id().unescaped()},
                "attrs": {},
                "parents": parents,
            })]
        };
        Ok(Mapped {
            line: self.line,
            action: self.action.clone(),
            resource,
            context: Value::Object(context),
            entities,
        })
    }
}
