//! The Cedar entities a model contributes to every decision: one `Plan` per tier and the role
//! set of the built-in roles; and the uid constructor every layer shares.

use std::str::FromStr;

use cedar_policy::{Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression};

use crate::error::{Code, Error, Result};
use crate::plans::{RoleDef, Tier};

/// `Plan::"<tier>"`: features as an attribute, limits as tags (absent tag = unlimited).
pub(super) fn plan_entity(tier: &Tier) -> Result<Entity> {
    let uid = uid("Plan", &tier.name)?;
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

/// Builds an entity uid from a type name and an id (any Unicode, empty allowed).
pub fn uid(type_name: &str, id: &str) -> Result<EntityUid> {
    let t = EntityTypeName::from_str(type_name).map_err(|e| {
        Error::new(
            Code::InvalidEntityType,
            format!("`{type_name}` is not an entity type name: {e}"),
        )
    })?;
    Ok(EntityUid::from_type_name_and_id(t, EntityId::new(id)))
}

/// The id of the role set shared by every org without custom roles (per-org ones are
/// `org:<id>`, so no org id can collide with it).
pub const BUILTIN_ROLES: &str = "builtin";

/// `RoleSet::"<id>"`: the roles tagged by name with their level, permissions and seat.
pub fn role_set_entity(id: &str, roles: &[RoleDef]) -> Result<Entity> {
    let mut tags = Vec::with_capacity(roles.len());
    for r in roles {
        let rec = RestrictedExpression::new_record([
            ("level".to_string(), RestrictedExpression::new_long(r.level)),
            (
                "permissions".to_string(),
                RestrictedExpression::new_set(
                    r.permissions
                        .iter()
                        .map(|p| RestrictedExpression::new_string(p.clone())),
                ),
            ),
            (
                "seat".to_string(),
                RestrictedExpression::new_string(
                    r.seat.clone().unwrap_or_else(|| "seat:member".into()),
                ),
            ),
        ])
        .map_err(|e| Error::Internal(e.to_string()))?;
        tags.push((r.name.clone(), rec));
    }
    Entity::new_with_tags(uid("RoleSet", id)?, [], [], tags)
        .map_err(|e| Error::Internal(e.to_string()))
}
