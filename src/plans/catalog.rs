//! The plan catalog: tiers in order, their cumulative features and limits, and the built-in
//! roles. It is configuration (a TOML file), never code, so an admin can change a limit without
//! a rebuild.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

/// A plan catalog that cannot be used: unreadable TOML or a rule it breaks, with the file named.
#[derive(Debug, thiserror::Error)]
#[error("plan catalog `{origin}`: {message}")]
pub struct CatalogError {
    /// The catalog's file name.
    pub origin: String,
    /// What is wrong.
    pub message: String,
}

type Result<T> = std::result::Result<T, CatalogError>;

/// The catalog shipped in the binary (`schema/plans.toml`).
pub const DEFAULT_CATALOG: &str = include_str!("../../schema/plans.toml");

/// Resource types that Tollgate counts itself rather than the app.
pub const TOLLGATE_COUNTED: [&str; 4] =
    ["seat:admin", "seat:member", "seat:total", "quota:workspace"];

/// One subscription tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    /// Tier name, e.g. `starter`.
    pub name: String,
    /// Features of this tier and every tier before it.
    pub features: BTreeSet<String>,
    /// Limits by resource type; a type absent here is unlimited.
    pub limits: BTreeMap<String, i64>,
}

impl Tier {
    /// The tier's limit for a resource type; `None` means unlimited.
    pub fn limit(&self, resource_type: &str) -> Option<i64> {
        self.limits.get(resource_type).copied()
    }
}

/// A role: a level (lower is more privileged) and a permission set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleDef {
    /// Role name, e.g. `admin`.
    pub name: String,
    /// Privilege level: lower outranks higher.
    pub level: i64,
    /// Permissions from the model's vocabulary.
    #[serde(default)]
    pub permissions: BTreeSet<String>,
    /// The seat bucket the role occupies (`seat:admin` or `seat:member`); custom roles derive it.
    #[serde(default)]
    pub seat: Option<String>,
}

/// The parsed, validated catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    tiers: Vec<Tier>,
    /// Every resource type the catalog knows, in file order.
    pub resource_types: Vec<String>,
    /// Built-in roles, most privileged first; shared with every cached org state that has no
    /// custom roles, so caching many orgs costs a pointer each, not a copy of the roles.
    pub roles: std::sync::Arc<Vec<RoleDef>>,
    /// Upgrade URL template with `{org}` and `{plan}`.
    pub upgrade_url: String,
    /// Days a `past_due` org keeps its plan.
    pub past_due_grace_days: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    upgrade_url: String,
    #[serde(default = "default_grace")]
    past_due_grace_days: i64,
    resource_types: Vec<String>,
    roles: Vec<RoleDef>,
    tiers: Vec<RawTier>,
}

fn default_grace() -> i64 {
    7
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    name: String,
    #[serde(default)]
    features: Vec<String>,
    #[serde(default)]
    limits: BTreeMap<String, i64>,
}

/// Whether a string is a well-formed resource type (`^[a-z]+:[a-z][a-z0-9_]*$`).
pub fn is_resource_type(s: &str) -> bool {
    let Some((kind, name)) = s.split_once(':') else {
        return false;
    };
    let mut name_chars = name.chars();
    !kind.is_empty()
        && kind.chars().all(|c| c.is_ascii_lowercase())
        && name_chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name_chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl Catalog {
    /// Parses and validates a catalog; `origin` names the file in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let raw: RawCatalog = toml::from_str(text).map_err(|e| CatalogError {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        let bad = |message: String| CatalogError {
            origin: origin.to_string(),
            message,
        };
        if raw.tiers.is_empty() {
            return Err(bad("it names no tier".into()));
        }
        if raw.past_due_grace_days < 0 {
            return Err(bad("`past_due_grace_days` must not be negative".into()));
        }
        let mut seen = BTreeSet::new();
        for rt in &raw.resource_types {
            if !is_resource_type(rt) {
                return Err(bad(format!(
                    "`{rt}` is not a resource type like `quota:project`"
                )));
            }
            if !seen.insert(rt.clone()) {
                return Err(bad(format!("resource type `{rt}` is listed twice")));
            }
        }
        for t in TOLLGATE_COUNTED {
            if !seen.contains(t) {
                return Err(bad(format!("resource type `{t}` must be listed")));
            }
        }
        let mut tiers: Vec<Tier> = Vec::with_capacity(raw.tiers.len());
        let mut features = BTreeSet::new();
        for t in raw.tiers {
            if tiers.iter().any(|x| x.name == t.name) || t.name.is_empty() {
                return Err(bad(format!("tier `{}` is empty or listed twice", t.name)));
            }
            for (rt, limit) in &t.limits {
                if !seen.contains(rt) {
                    return Err(bad(format!(
                        "tier `{}` limits `{rt}`, which `resource_types` does not list",
                        t.name
                    )));
                }
                if *limit < 0 {
                    return Err(bad(format!(
                        "tier `{}` has a negative limit for `{rt}`",
                        t.name
                    )));
                }
            }
            features.extend(t.features);
            tiers.push(Tier {
                name: t.name,
                features: features.clone(),
                limits: t.limits,
            });
        }
        let mut roles = raw.roles;
        roles.sort_by_key(|r| r.level);
        for (i, r) in roles.iter().enumerate() {
            if roles[..i].iter().any(|x| x.name == r.name) {
                return Err(bad(format!("role `{}` is listed twice", r.name)));
            }
            match r.seat.as_deref() {
                Some("seat:admin") | Some("seat:member") => {}
                _ => {
                    return Err(bad(format!(
                        "role `{}` needs `seat = \"seat:admin\"` or `\"seat:member\"`",
                        r.name
                    )))
                }
            }
        }
        if roles.is_empty() {
            return Err(bad("it names no role".into()));
        }
        Ok(Catalog {
            tiers,
            resource_types: raw.resource_types,
            roles: std::sync::Arc::new(roles),
            upgrade_url: raw.upgrade_url,
            past_due_grace_days: raw.past_due_grace_days,
        })
    }

    /// The catalog embedded in the binary.
    pub fn default_catalog() -> Result<Self> {
        Self::parse(DEFAULT_CATALOG, "<embedded plans.toml>")
    }

    /// Tiers in catalog order, cheapest first.
    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }

    /// Every feature some tier includes.
    pub fn features(&self) -> std::collections::BTreeSet<&str> {
        self.tiers
            .iter()
            .flat_map(|t| t.features.iter().map(String::as_str))
            .collect()
    }

    /// The first (cheapest) tier; what a lapsed subscription falls back to.
    pub fn first_tier(&self) -> &Tier {
        // `parse` refuses a catalog without tiers, so index 0 exists.
        &self.tiers[0]
    }

    /// A tier by name.
    pub fn tier(&self, name: &str) -> Option<&Tier> {
        self.tiers.iter().find(|t| t.name == name)
    }

    /// A built-in role by name.
    pub fn role(&self, name: &str) -> Option<&RoleDef> {
        self.roles.iter().find(|r| r.name == name)
    }

    /// The seat bucket of a role level: the nearest built-in level at or below it in privilege
    /// (the smallest built-in level that is `>= level`), else the least privileged built-in.
    pub fn seat_for_level(&self, level: i64) -> &str {
        let role = self
            .roles
            .iter()
            .find(|r| r.level >= level)
            .or_else(|| self.roles.last());
        role.and_then(|r| r.seat.as_deref())
            .unwrap_or("seat:member")
    }

    /// Whether Tollgate counts this resource type itself.
    pub fn is_tollgate_counted(resource_type: &str) -> bool {
        TOLLGATE_COUNTED.contains(&resource_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_catalog_has_cumulative_features() {
        let c = Catalog::default_catalog().unwrap();
        let names: Vec<_> = c.tiers().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["free", "starter", "professional", "enterprise"]);
        let ent = c.tier("enterprise").unwrap();
        assert!(ent.features.contains("api_access"));
        assert!(ent.features.contains("resource_roles"));
        assert!(ent.features.contains("audit_logs"));
        assert_eq!(ent.limit("seat:total"), None);
        assert_eq!(c.tier("free").unwrap().limit("seat:admin"), Some(1));
    }

    #[test]
    fn seat_bucket_follows_nearest_builtin_at_or_below() {
        let c = Catalog::default_catalog().unwrap();
        assert_eq!(c.seat_for_level(5), "seat:admin");
        assert_eq!(c.seat_for_level(20), "seat:admin");
        assert_eq!(c.seat_for_level(25), "seat:member");
        assert_eq!(c.seat_for_level(99), "seat:member");
    }

    #[test]
    fn resource_type_syntax() {
        assert!(is_resource_type("quota:project"));
        assert!(is_resource_type("seat:a1_b"));
        assert!(!is_resource_type("quota:"));
        assert!(!is_resource_type("Quota:x"));
        assert!(!is_resource_type("quota:1x"));
        assert!(!is_resource_type("quota"));
    }

    #[test]
    fn rejects_limit_on_unlisted_type() {
        let text = DEFAULT_CATALOG.replace("\"quota:project\" = 3", "\"quota:nope\" = 3");
        let err = Catalog::parse(&text, "x").unwrap_err().to_string();
        assert!(err.contains("quota:nope"), "{err}");
    }
}
