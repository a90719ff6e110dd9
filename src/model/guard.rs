//! The reload guard: which forbids of the running set a new set drops, changes or narrows. A
//! hot reload that loses one is refused unless forced, so a half-saved or deleted file never
//! opens access.

use std::collections::{BTreeSet, HashMap};

use cedar_policy::Effect;

use super::Model;

impl Model {
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
}

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
