//! The generic Cedar path, tested differentially: for several custom models (schema + policies
//! written to a temp dir, daemon started with `--policies DIR --schema FILE`), every decision
//! Tollgate gives must equal what the in-process `cedar_policy::Authorizer` answers for the same
//! policies, schema, entities and request. The one deliberate deviation (an evaluation error
//! turns any answer into a deny) is tested on its own.

use std::collections::BTreeSet;
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicyId,
    PolicySet, Request, Response, Schema,
};
use serde_json::{json, Value};

use crate::helpers::{Answer, TestApp};

// ---------------------------------------------------------------------------------------------
// The differential harness
// ---------------------------------------------------------------------------------------------

/// A daemon serving a custom model, plus the same model loaded in-process as the oracle.
struct Differential {
    app: TestApp,
    _files: tempfile::TempDir,
    schema: Schema,
    policies: PolicySet,
    /// Every entity acknowledged by `PUT /v1/entities` and not deleted since, as sent.
    stored: Vec<Value>,
}

/// The policy set as Tollgate ids it: `@id("...")`, else `<file>:<index>`.
fn reference_policies(files: &[(&str, &str)]) -> PolicySet {
    let mut out = PolicySet::new();
    for (name, text) in files {
        let parsed = PolicySet::from_str(text).expect("test policies parse");
        let mut in_file: Vec<_> = parsed.policies().collect();
        in_file.sort_by_key(|p| {
            p.id()
                .to_string()
                .trim_start_matches("policy")
                .parse::<usize>()
                .expect("policyN id")
        });
        for (index, p) in in_file.into_iter().enumerate() {
            let id = match p.annotation("id") {
                Some(id) => id.to_string(),
                None => format!("{name}:{index}"),
            };
            out.add(p.new_id(PolicyId::new(id))).expect("unique ids");
        }
    }
    out
}

/// Parses a uid in either wire form.
fn wire_uid(v: &Value) -> EntityUid {
    match v {
        Value::String(s) => EntityUid::from_str(s).expect("uid string"),
        Value::Object(m) => {
            let t = m["type"].as_str().expect("type");
            let id = m["id"].as_str().expect("id");
            EntityUid::from_type_name_and_id(
                EntityTypeName::from_str(t).expect("type name"),
                EntityId::new(id),
            )
        }
        other => panic!("not a uid: {other}"),
    }
}

/// `{"type": .., "id": ..}`.
fn obj(t: &str, id: &str) -> Value {
    json!({"type": t, "id": id})
}

/// `Type::"id"`, escaped as Cedar prints it.
fn text(t: &str, id: &str) -> Value {
    let u = EntityUid::from_type_name_and_id(
        EntityTypeName::from_str(t).expect("type name"),
        EntityId::new(id),
    );
    Value::String(u.to_string())
}

/// The uid in the form picked by `n` (even: object, odd: string), so that both forms get used.
fn either(n: usize, t: &str, id: &str) -> Value {
    if n.is_multiple_of(2) {
        obj(t, id)
    } else {
        text(t, id)
    }
}

/// Percent-encodes one path segment (`:` kept, as in `App::User`).
fn seg(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The uid of an entity in Cedar JSON (which must be schema-valid).
fn entity_uid(schema: &Schema, e: &Value) -> EntityUid {
    Entity::from_json_value(e.clone(), Some(schema))
        .unwrap_or_else(|err| panic!("test entity {e} is schema-valid: {err}"))
        .uid()
}

/// What Tollgate must answer for a Cedar response on a model without `@gate` annotations.
fn expected_answer(r: &Response) -> Value {
    let errors: Vec<String> = r.diagnostics().errors().map(|e| e.to_string()).collect();
    let allow = r.decision() == Decision::Allow && errors.is_empty();
    json!({
        "decision": if allow { "allow" } else { "deny" },
        "status": if allow { 200 } else { 403 },
        "reasons": sorted_reasons(r),
        "errors": errors,
    })
}

fn sorted_reasons(r: &Response) -> Vec<String> {
    let mut v: Vec<String> = r.diagnostics().reason().map(|p| p.to_string()).collect();
    v.sort();
    v
}

/// The part of a Tollgate answer the oracle speaks to.
fn comparable(body: &Value) -> Value {
    json!({
        "decision": body["decision"],
        "status": body["status"],
        "reasons": body["reasons"],
        "errors": body["errors"],
    })
}

impl Differential {
    fn start(schema_src: &str, files: &[(&str, &str)]) -> Differential {
        let dir = tempfile::tempdir().expect("tempdir");
        let pdir = dir.path().join("policies");
        std::fs::create_dir(&pdir).expect("mkdir");
        for (name, body) in files {
            std::fs::write(pdir.join(name), body).expect("write policy");
        }
        // A schema starting with `{` is Cedar's JSON format, which Tollgate picks by extension.
        let json_format = schema_src.trim_start().starts_with('{');
        let sfile = dir.path().join(if json_format {
            "model.cedarschema.json"
        } else {
            "model.cedarschema"
        });
        std::fs::write(&sfile, schema_src).expect("write schema");
        let schema = if json_format {
            Schema::from_json_str(schema_src).expect("test JSON schema parses")
        } else {
            Schema::from_cedarschema_str(schema_src)
                .expect("test schema parses")
                .0
        };
        let policies = reference_policies(files);
        for p in policies.policies() {
            assert!(
                p.annotation("id").is_some(),
                "every test policy carries an @id"
            );
        }
        let app = TestApp::spawn_with(
            &[
                "--policies",
                pdir.to_str().expect("utf-8 path"),
                "--schema",
                sfile.to_str().expect("utf-8 path"),
            ],
            &[],
        );
        Differential {
            app,
            _files: dir,
            schema,
            policies,
            stored: Vec::new(),
        }
    }

    fn entity_uid(&self, e: &Value) -> EntityUid {
        entity_uid(&self.schema, e)
    }

    /// `PUT /v1/entities` that must succeed; mirrors the upsert in the oracle's entity set.
    fn put(&mut self, entities: Value) {
        let items = entities.as_array().expect("array").clone();
        let a = self.app.admin("PUT", "/v1/entities", Some(entities));
        assert_eq!(
            a.status, 200,
            "PUT /v1/entities answered {}: {}",
            a.status, a.raw
        );
        assert_eq!(a.body["written"], json!(items.len()), "{}", a.raw);
        for e in items {
            let u = entity_uid(&self.schema, &e);
            self.stored.retain(|s| entity_uid(&self.schema, s) != u);
            self.stored.push(e);
        }
    }

    /// Drops an entity from the oracle's set (after a successful DELETE).
    fn forget(&mut self, u: &EntityUid) {
        let before = self.stored.len();
        self.stored.retain(|s| &entity_uid(&self.schema, s) != u);
        assert_eq!(before, self.stored.len() + 1, "{u} was in the oracle's set");
    }

    /// Cedar's own answer: stored entities plus the request's entities the store lacks (stored
    /// wins on a conflict, as Tollgate documents).
    fn reference(&self, req: &Value) -> Response {
        let principal = wire_uid(&req["principal"]);
        let action = wire_uid(&req["action"]);
        let resource = wire_uid(&req["resource"]);
        let ctx_json = match req.get("context") {
            Some(c) if !c.is_null() => c.clone(),
            _ => json!({}),
        };
        let context = Context::from_json_value(ctx_json, Some((&self.schema, &action)))
            .expect("oracle: context is valid");
        let request = Request::new(principal, action, resource, context, Some(&self.schema))
            .expect("oracle: request is valid");
        let stored_uids: Vec<EntityUid> = self.stored.iter().map(|e| self.entity_uid(e)).collect();
        let mut all = self.stored.clone();
        if let Some(Value::Array(extra)) = req.get("entities") {
            for e in extra {
                if !stored_uids.contains(&self.entity_uid(e)) {
                    all.push(e.clone());
                }
            }
        }
        let entities = Entities::from_json_value(Value::Array(all), Some(&self.schema))
            .expect("oracle: entities");
        Authorizer::new().is_authorized(&request, &self.policies, &entities)
    }

    /// Whether Cedar refuses to build this request (context or request fails the schema).
    fn cedar_refuses(&self, req: &Value) -> bool {
        let action = wire_uid(&req["action"]);
        let ctx = req.get("context").cloned().unwrap_or_else(|| json!({}));
        match Context::from_json_value(ctx, Some((&self.schema, &action))) {
            Err(_) => true,
            Ok(c) => Request::new(
                wire_uid(&req["principal"]),
                action,
                wire_uid(&req["resource"]),
                c,
                Some(&self.schema),
            )
            .is_err(),
        }
    }

    fn ask(&self, req: &Value) -> Answer {
        self.app.call("POST", "/v1/authorize", Some(req), None)
    }

    /// Asks Tollgate and asserts it answers as Cedar does; returns Tollgate's body and Cedar's
    /// response.
    fn check(&self, req: &Value) -> (Value, Response) {
        let cedar = self.reference(req);
        let a = self.ask(req);
        assert_eq!(
            a.status, 200,
            "authorize {req} answered {}: {}",
            a.status, a.raw
        );
        assert_eq!(
            comparable(&a.body),
            expected_answer(&cedar),
            "Tollgate differs from Cedar for {req}\nTollgate: {}",
            a.raw
        );
        (a.body, cedar)
    }

    /// Runs `check` over many requests and asserts the set exercised both answers.
    fn check_all(&self, reqs: &[Value]) -> Tally {
        let mut t = Tally::default();
        for r in reqs {
            let (_, cedar) = self.check(r);
            match cedar.decision() {
                Decision::Allow => t.allow += 1,
                Decision::Deny => t.deny += 1,
            }
            t.reasons.extend(sorted_reasons(&cedar));
        }
        assert!(
            t.allow > 0 && t.deny > 0,
            "the request set exercises allow and deny: {t:?}"
        );
        t
    }

    /// A 422 error answer with this code.
    fn expect_422(&self, req: &Value, code: &str) {
        let a = self.ask(req);
        assert_eq!(a.status, 422, "{req} answered {}: {}", a.status, a.raw);
        assert_eq!(a.body["code"], json!(code), "{}", a.raw);
        assert!(
            a.body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            a.raw
        );
    }
}

#[derive(Debug, Default)]
struct Tally {
    allow: usize,
    deny: usize,
    reasons: BTreeSet<String>,
}

impl Tally {
    /// Asserts that every listed policy determined at least one decision.
    fn covers(&self, ids: &[&str]) {
        for id in ids {
            assert!(
                self.reasons.contains(*id),
                "no request was decided by `{id}`: {self:?}"
            );
        }
    }
}

fn request(principal: Value, action: Value, resource: Value, context: Value) -> Value {
    json!({"principal": principal, "action": action, "resource": resource, "context": context})
}

// ---------------------------------------------------------------------------------------------
// Model 1: a namespace, action groups, a deep group hierarchy, attribute references
// ---------------------------------------------------------------------------------------------

const NS_SCHEMA: &str = r#"
namespace App {
  entity Group in [Group];
  entity User in [Group] { name: String, manager?: User };
  entity Doc { owner: User, public: Bool };
  action allActions;
  action readActions in [allActions];
  action "read" in [readActions] appliesTo { principal: User, resource: Doc };
  action "list" in [readActions] appliesTo { principal: User, resource: Doc };
  action "write" in [allActions] appliesTo { principal: User, resource: Doc, context: { reason?: String, delegate?: User } };
}
"#;

const NS_ACCESS: &str = r#"
@id("root-reads")
permit(principal in App::Group::"root", action in App::Action::"readActions", resource);

@id("public-read")
permit(principal, action == App::Action::"read", resource) when { resource.public };

@id("owner-writes")
permit(principal, action == App::Action::"write", resource) when { resource.owner == principal };

@id("manager-writes")
permit(principal, action == App::Action::"write", resource)
when { resource.owner has manager && resource.owner.manager == principal };

@id("delegated-write")
permit(principal, action == App::Action::"write", resource)
when { context has delegate && context.delegate in App::Group::"eng" && resource.owner == context.delegate };

@id("auditors-everything")
permit(principal in App::Group::"auditors", action in [App::Action::"allActions"], resource);

@id("unicode-lists")
permit(principal == App::User::"ünï😀", action == App::Action::"list", resource);
"#;

const NS_DENY: &str = r#"
@id("auditors-touch-no-public")
forbid(principal in App::Group::"auditors", action in [App::Action::"write", App::Action::"list"], resource)
when { resource.public };

@id("banned")
forbid(principal in App::Group::"banned", action, resource);

@id("anonymous-never-writes")
forbid(principal == App::User::"", action == App::Action::"write", resource)
unless { context has reason && context.reason == "audit" };
"#;

const NS_FILES: &[(&str, &str)] = &[("access.cedar", NS_ACCESS), ("deny.cedar", NS_DENY)];

fn ns_user(id: &str, parents: &[&str], manager: Option<&str>) -> Value {
    let mut attrs = json!({"name": format!("user {id}")});
    if let Some(m) = manager {
        attrs["manager"] = obj("App::User", m);
    }
    json!({
        "uid": obj("App::User", id),
        "attrs": attrs,
        "parents": parents.iter().map(|g| obj("App::Group", g)).collect::<Vec<_>>(),
    })
}

fn ns_doc(id: &str, owner: &str, public: bool) -> Value {
    json!({
        "uid": obj("App::Doc", id),
        // The explicit `__entity` escape here, the schema-implied form in users.
        "attrs": {"owner": {"__entity": {"type": "App::User", "id": owner}}, "public": public},
        "parents": [],
    })
}

fn ns_group(id: &str, parents: &[&str]) -> Value {
    json!({
        "uid": obj("App::Group", id),
        "attrs": {},
        "parents": parents.iter().map(|g| obj("App::Group", g)).collect::<Vec<_>>(),
    })
}

/// Groups root > dept > eng > platform, plus banned; users at several depths.
fn ns_fixture(d: &mut Differential) {
    d.put(json!([
        ns_group("root", &[]),
        ns_group("dept", &["root"]),
        ns_group("eng", &["dept"]),
        ns_group("platform", &["eng"]),
        ns_group("banned", &[]),
        ns_group("auditors", &[]),
    ]));
    d.put(json!([
        ns_user("alice", &["platform"], None),
        ns_user("bob", &["dept", "banned"], None),
        ns_user("carol", &[], None),
        ns_user("dave", &[], Some("carol")),
        ns_user("", &["eng"], None),
        ns_user("ünï😀", &[], Some("")),
        ns_user("erin", &[], None),
        ns_user("ivy", &["auditors"], None),
    ]));
    d.put(json!([
        ns_doc("d1", "dave", false),
        ns_doc("d2", "alice", true),
        ns_doc("文档", "", false),
        ns_doc("", "ünï😀", false),
    ]));
}

const NS_USERS: &[&str] = &["alice", "bob", "carol", "dave", "", "ünï😀", "erin", "ivy"];
const NS_DOCS: &[&str] = &["d1", "d2", "文档", ""];
const NS_ACTIONS: &[&str] = &["read", "list", "write"];

#[test]
fn namespace_action_groups_hierarchy_and_references_match_cedar() {
    let mut d = Differential::start(NS_SCHEMA, NS_FILES);
    ns_fixture(&mut d);

    // Scenario guards on the oracle: the data really exercises each feature.
    let deep = request(
        obj("App::User", "alice"),
        obj("App::Action", "list"),
        obj("App::Doc", "d1"),
        json!({}),
    );
    let cedar = d.reference(&deep);
    assert_eq!(
        cedar.decision(),
        Decision::Allow,
        "alice is in root three groups up"
    );
    assert_eq!(sorted_reasons(&cedar), ["root-reads"]);
    let chain = request(
        obj("App::User", "carol"),
        obj("App::Action", "write"),
        obj("App::Doc", "d1"),
        json!({}),
    );
    let cedar = d.reference(&chain);
    assert_eq!(
        cedar.decision(),
        Decision::Allow,
        "carol manages d1's owner"
    );
    assert_eq!(sorted_reasons(&cedar), ["manager-writes"]);

    let mut reqs = Vec::new();
    let mut n = 0;
    for p in NS_USERS {
        for a in NS_ACTIONS {
            for r in NS_DOCS {
                n += 1;
                reqs.push(request(
                    either(n, "App::User", p),
                    either(n / 2, "App::Action", a),
                    either(n / 3, "App::Doc", r),
                    json!({}),
                ));
            }
        }
    }
    // The empty-id user may write only with the audit reason.
    for reason in [
        json!({}),
        json!({"reason": "audit"}),
        json!({"reason": "other"}),
    ] {
        reqs.push(request(
            text("App::User", ""),
            text("App::Action", "write"),
            obj("App::Doc", "文档"),
            reason,
        ));
    }
    // A delegate named in the context: its ancestors must come from the store.
    for (p, r, delegate) in [
        ("erin", "d2", obj("App::User", "alice")),
        (
            "erin",
            "d1",
            json!({"__entity": {"type": "App::User", "id": "dave"}}),
        ),
        ("carol", "文档", obj("App::User", "")),
        (
            "",
            "文档",
            json!({"__entity": {"type": "App::User", "id": ""}}),
        ),
        ("erin", "d2", obj("App::User", "nobody")),
    ] {
        reqs.push(request(
            obj("App::User", p),
            obj("App::Action", "write"),
            obj("App::Doc", r),
            json!({ "delegate": delegate }),
        ));
    }
    let t = d.check_all(&reqs);
    t.covers(&[
        "delegated-write",
        "root-reads",
        "public-read",
        "owner-writes",
        "manager-writes",
        "unicode-lists",
        "banned",
        "anonymous-never-writes",
        "auditors-everything",
        "auditors-touch-no-public",
    ]);

    // `/v1/authorize/batch` answers each item as Cedar does, in order.
    let items = &reqs[..50];
    let a = d.app.call(
        "POST",
        "/v1/authorize/batch",
        Some(&json!({ "requests": items })),
        None,
    );
    assert_eq!(a.status, 200, "batch answered {}: {}", a.status, a.raw);
    let results = a.body["results"].as_array().expect("results");
    assert_eq!(results.len(), items.len());
    for (r, got) in items.iter().zip(results) {
        assert_eq!(
            comparable(got),
            expected_answer(&d.reference(r)),
            "batch item {r}"
        );
    }

    // `/v1/permissions` gives, for every action on the resource type, Cedar's answer.
    for p in NS_USERS {
        for r in NS_DOCS {
            let body = json!({"principal": obj("App::User", p), "resource": text("App::Doc", r)});
            let a = d.app.call("POST", "/v1/permissions", Some(&body), None);
            assert_eq!(a.status, 200, "permissions {body}: {}", a.raw);
            let actions = a.body["actions"].as_object().expect("actions");
            let names: BTreeSet<&str> = actions.keys().map(String::as_str).collect();
            assert_eq!(names, NS_ACTIONS.iter().copied().collect(), "{}", a.raw);
            for name in NS_ACTIONS {
                let one = request(
                    obj("App::User", p),
                    obj("App::Action", name),
                    obj("App::Doc", r),
                    json!({}),
                );
                assert_eq!(
                    comparable(&actions[*name]),
                    expected_answer(&d.reference(&one)),
                    "permissions entry for {one}"
                );
            }
        }
    }

    // An upsert moving alice out of the hierarchy is seen by the next decision.
    d.put(json!([ns_user("alice", &[], None)]));
    let (_, cedar) = d.check(&deep);
    assert_eq!(
        cedar.decision(),
        Decision::Deny,
        "alice no longer under root"
    );
    // And a group re-parented deep in the chain cuts every member below it.
    d.put(json!([
        ns_user("alice", &["platform"], None),
        ns_group("eng", &[])
    ]));
    let (_, cedar) = d.check(&deep);
    assert_eq!(cedar.decision(), Decision::Deny, "eng no longer under dept");
    d.check_all(&reqs);
}

#[test]
fn unicode_and_empty_ids_in_both_uid_forms() {
    let mut d = Differential::start(NS_SCHEMA, NS_FILES);
    ns_fixture(&mut d);
    // Ids that need escaping in the string form, too.
    d.put(json!([
        ns_user("q\"uo\\te", &["root"], None),
        ns_doc("tab\tnew\nline", "q\"uo\\te", false),
        ns_doc("a/b 50%+c?d#e", "ünï😀", true),
    ]));
    let users = ["", "ünï😀", "q\"uo\\te", "alice"];
    let docs = ["", "文档", "tab\tnew\nline", "d2", "a/b 50%+c?d#e"];
    let mut reqs = Vec::new();
    for p in users {
        for a in NS_ACTIONS {
            for r in docs {
                let as_objects = request(
                    obj("App::User", p),
                    obj("App::Action", a),
                    obj("App::Doc", r),
                    json!({}),
                );
                let as_strings = request(
                    text("App::User", p),
                    text("App::Action", a),
                    text("App::Doc", r),
                    json!({}),
                );
                let (by_object, _) = d.check(&as_objects);
                let (by_string, _) = d.check(&as_strings);
                assert_eq!(
                    by_object, by_string,
                    "both uid forms answer alike for {as_objects}"
                );
                reqs.push(as_objects);
            }
        }
    }
    let t = d.check_all(&reqs);
    t.covers(&["unicode-lists", "root-reads", "anonymous-never-writes"]);

    // The data API round-trips the same ids (percent-encoded in the path).
    for (t, id) in [
        ("App::User", ""),
        ("App::User", "ünï😀"),
        ("App::User", "q\"uo\\te"),
        ("App::Doc", "文档"),
        ("App::Doc", "tab\tnew\nline"),
        ("App::Doc", "a/b 50%+c?d#e"),
    ] {
        let a = d
            .app
            .admin("GET", &format!("/v1/entities/{t}/{}", seg(id)), None);
        assert_eq!(
            a.status, 200,
            "GET {t} {id:?} answered {}: {}",
            a.status, a.raw
        );
        let got = Entity::from_json_value(a.body.clone(), Some(&d.schema))
            .expect("GET body is an entity");
        let want = d
            .stored
            .iter()
            .map(|e| Entity::from_json_value(e.clone(), Some(&d.schema)).expect("entity"))
            .find(|e| e.uid().to_string() == text(t, id).as_str().expect("str"))
            .expect("stored");
        assert_eq!(got, want, "GET {t} {id:?} returns what was put");
    }
}

// ---------------------------------------------------------------------------------------------
// Model 2: entity tags and an enum entity type
// ---------------------------------------------------------------------------------------------

const TAGS_SCHEMA: &str = r#"
entity User { clearance: Set<String> };
entity Color enum ["red", "green"];
entity Doc { color: Color } tags String;
action "view" appliesTo { principal: User, resource: Doc, context: { wanted: String } };
action "paint" appliesTo { principal: User, resource: Color, context: { shade?: Color } };
"#;

const TAGS_POLICIES: &str = r#"
@id("tag-clearance")
permit(principal, action == Action::"view", resource)
when { resource.hasTag(context.wanted) && principal.clearance.contains(resource.getTag(context.wanted)) };

@id("red-is-open")
permit(principal, action == Action::"view", resource) when { resource.color == Color::"red" };

@id("secret-tag")
forbid(principal, action == Action::"view", resource)
when { resource.hasTag("secret") && resource.getTag("secret") == "yes" };

@id("paint-green")
permit(principal, action == Action::"paint", resource == Color::"green");

@id("paint-shade")
permit(principal, action == Action::"paint", resource)
when { context has shade && context.shade == resource && principal.clearance.contains("painter") };
"#;

#[test]
fn entity_tags_and_enum_types_match_cedar() {
    let mut d = Differential::start(TAGS_SCHEMA, &[("tags.cedar", TAGS_POLICIES)]);
    d.put(json!([
        {"uid": obj("User", "u1"), "attrs": {"clearance": ["public", "internal", "painter"]}, "parents": []},
        {"uid": obj("User", "u2"), "attrs": {"clearance": ["top"]}, "parents": []},
        {"uid": obj("User", "u3"), "attrs": {"clearance": []}, "parents": []},
        {"uid": obj("Doc", "a"), "attrs": {"color": obj("Color", "green")}, "parents": [],
         "tags": {"level": "internal"}},
        {"uid": obj("Doc", "b"), "attrs": {"color": {"__entity": {"type": "Color", "id": "red"}}},
         "parents": [], "tags": {"secret": "yes", "level": "top"}},
        {"uid": obj("Doc", "c"), "attrs": {"color": obj("Color", "green")}, "parents": [], "tags": {}},
        {"uid": obj("Doc", "d"), "attrs": {"color": obj("Color", "red")}, "parents": [],
         "tags": {"secret": "no", "level": "public"}},
    ]));
    let mut reqs = Vec::new();
    let mut n = 0;
    for p in ["u1", "u2", "u3"] {
        for r in ["a", "b", "c", "d"] {
            for wanted in ["level", "secret", "missing"] {
                n += 1;
                reqs.push(request(
                    either(n, "User", p),
                    either(n + 1, "Action", "view"),
                    either(n / 2, "Doc", r),
                    json!({"wanted": wanted}),
                ));
            }
        }
        for color in ["red", "green"] {
            for shade in [None, Some("red"), Some("green")] {
                n += 1;
                let ctx = match shade {
                    None => json!({}),
                    Some(s) => json!({"shade": obj("Color", s)}),
                };
                reqs.push(request(
                    either(n, "User", p),
                    obj("Action", "paint"),
                    either(n / 2, "Color", color),
                    ctx,
                ));
            }
        }
    }
    let t = d.check_all(&reqs);
    t.covers(&[
        "tag-clearance",
        "red-is-open",
        "secret-tag",
        "paint-green",
        "paint-shade",
    ]);

    // An enum id outside the declared set: Cedar refuses the request, so must Tollgate.
    let blue = request(
        obj("User", "u1"),
        obj("Action", "paint"),
        obj("Color", "blue"),
        json!({}),
    );
    assert!(d.cedar_refuses(&blue), "Cedar refuses Color::\"blue\"");
    let a = d.ask(&blue);
    assert_eq!(
        a.status, 422,
        "Color::\"blue\" answered {}: {}",
        a.status, a.raw
    );

    // The same for an entity whose enum-typed attribute is outside the set.
    let bad =
        json!({"uid": obj("Doc", "e"), "attrs": {"color": obj("Color", "blue")}, "parents": []});
    assert!(
        Entity::from_json_value(bad.clone(), Some(&d.schema)).is_err(),
        "Cedar refuses it"
    );
    let a = d.app.admin("PUT", "/v1/entities", Some(json!([bad])));
    assert_eq!(
        a.status, 422,
        "bad enum entity answered {}: {}",
        a.status, a.raw
    );
    assert_eq!(d.app.admin("GET", "/v1/entities/Doc/e", None).status, 404);

    // A tag of the wrong type is refused too.
    let bad = json!({"uid": obj("Doc", "f"), "attrs": {"color": obj("Color", "red")}, "parents": [],
                     "tags": {"level": 3}});
    assert!(
        Entity::from_json_value(bad.clone(), Some(&d.schema)).is_err(),
        "Cedar refuses it"
    );
    let a = d.app.admin("PUT", "/v1/entities", Some(json!([bad])));
    assert_eq!(a.status, 422, "bad tag answered {}: {}", a.status, a.raw);
    assert_eq!(d.app.admin("GET", "/v1/entities/Doc/f", None).status, 404);
}

// ---------------------------------------------------------------------------------------------
// Model 3: extension types (ipaddr, decimal, datetime, duration) in attributes and context
// ---------------------------------------------------------------------------------------------

const EXT_SCHEMA: &str = r#"
entity Net { range: ipaddr };
entity Host in [Net] { addr: ipaddr, net: Net };
entity User { home: ipaddr, limit: decimal, joined: datetime, grace: duration };
action "connect" appliesTo {
  principal: User,
  resource: Host,
  context: { src: ipaddr, amount: decimal, now: datetime, ttl: duration }
};
"#;

const EXT_POLICIES: &str = r#"
@id("same-net")
permit(principal, action == Action::"connect", resource)
when { context.src.isInRange(resource.net.range) && !context.src.isLoopback() };

@id("home-private")
permit(principal, action == Action::"connect", resource)
when { principal.home.isInRange(ip("10.0.0.0/8")) && resource.addr == ip("10.0.0.1") };

@id("over-limit")
forbid(principal, action == Action::"connect", resource)
when { context.amount.greaterThan(principal.limit) };

@id("expired")
forbid(principal, action == Action::"connect", resource)
when { context.now > principal.joined.offset(principal.grace) };

@id("short-ttl")
forbid(principal, action, resource) when { context.ttl < duration("1m") };

@id("rich-loopback")
permit(principal, action, resource)
when { context.src.isLoopback() && principal.limit.greaterThanOrEqual(decimal("100.0")) };
"#;

#[test]
fn extension_types_in_attributes_and_context_match_cedar() {
    let mut d = Differential::start(EXT_SCHEMA, &[("ext.cedar", EXT_POLICIES)]);
    // Extension values in all three JSON spellings: explicit `__extn`, implicit `{fn, arg}`,
    // and the schema-implied constructor (a bare string).
    d.put(json!([
        {"uid": obj("Net", "n10"), "attrs": {"range": {"__extn": {"fn": "ip", "arg": "10.0.0.0/8"}}}, "parents": []},
        {"uid": obj("Net", "n192"), "attrs": {"range": "192.168.0.0/16"}, "parents": []},
        {"uid": obj("Host", "h1"), "attrs": {"addr": {"fn": "ip", "arg": "10.0.0.1"}, "net": obj("Net", "n10")},
         "parents": [obj("Net", "n10")]},
        {"uid": obj("Host", "h2"), "attrs": {"addr": "192.168.1.5", "net": obj("Net", "n192")},
         "parents": [obj("Net", "n192")]},
        {"uid": obj("User", "alice"), "parents": [], "attrs": {
            "home": "10.1.2.3",
            "limit": {"__extn": {"fn": "decimal", "arg": "100.50"}},
            "joined": {"__extn": {"fn": "datetime", "arg": "2024-01-01"}},
            "grace": {"__extn": {"fn": "duration", "arg": "365d"}}}},
        {"uid": obj("User", "bob"), "parents": [], "attrs": {
            "home": "172.16.0.1",
            "limit": "5.0",
            "joined": "2024-06-01T00:00:00Z",
            "grace": "30d"}},
    ]));
    let mut reqs = Vec::new();
    let mut n = 0;
    for p in ["alice", "bob"] {
        for r in ["h1", "h2"] {
            for src in ["10.9.9.9", "192.168.3.4", "127.0.0.1"] {
                for amount in ["50.25", "200.0"] {
                    for now in ["2024-03-01", "2026-01-01T00:00:00Z"] {
                        for ttl in ["1h", "30s"] {
                            n += 1;
                            let ctx = if n % 2 == 0 {
                                json!({"src": src, "amount": amount, "now": now, "ttl": ttl})
                            } else {
                                json!({
                                    "src": {"__extn": {"fn": "ip", "arg": src}},
                                    "amount": {"fn": "decimal", "arg": amount},
                                    "now": {"__extn": {"fn": "datetime", "arg": now}},
                                    "ttl": {"__extn": {"fn": "duration", "arg": ttl}},
                                })
                            };
                            reqs.push(request(
                                either(n / 2, "User", p),
                                obj("Action", "connect"),
                                either(n / 3, "Host", r),
                                ctx,
                            ));
                        }
                    }
                }
            }
        }
    }
    let t = d.check_all(&reqs);
    t.covers(&[
        "same-net",
        "home-private",
        "over-limit",
        "expired",
        "short-ttl",
        "rich-loopback",
    ]);

    // A malformed extension literal in the context is a schema failure: 422, never a decision.
    let mut bad = reqs[0].clone();
    bad["context"]["src"] = json!("not-an-ip");
    assert!(d.cedar_refuses(&bad), "Cedar refuses {bad}");
    d.expect_422(&bad, "INVALID_CONTEXT");
}

// ---------------------------------------------------------------------------------------------
// The deliberate deviation: an evaluation error is a deny even when Cedar allows
// ---------------------------------------------------------------------------------------------

/// In Cedar's JSON schema format, so the `.json` schema path is exercised too.
const FAIL_SCHEMA: &str = r#"{
  "": {
    "entityTypes": {
      "User": {
        "shape": {
          "type": "Record",
          "attributes": { "blocked": { "type": "Boolean" } }
        }
      },
      "Doc": {}
    },
    "actions": {
      "bump": {
        "appliesTo": {
          "principalTypes": ["User"],
          "resourceTypes": ["Doc"],
          "context": {
            "type": "Record",
            "attributes": { "n": { "type": "Long" } }
          }
        }
      }
    }
  }
}"#;

const FAIL_POLICIES: &str = r#"
@id("allow-all")
permit(principal, action, resource);

@id("overflow-forbid")
forbid(principal, action, resource) when { context.n + 1 < 0 };

@id("blocked-forbid")
forbid(principal, action, resource) when { principal.blocked };
"#;

#[test]
fn evaluation_errors_fail_closed_where_cedar_allows() {
    let mut d = Differential::start(FAIL_SCHEMA, &[("fail.cedar", FAIL_POLICIES)]);
    d.put(json!([
        {"uid": obj("User", "ok"), "attrs": {"blocked": false}, "parents": []},
        {"uid": obj("User", "bad"), "attrs": {"blocked": true}, "parents": []},
        {"uid": obj("Doc", "x"), "attrs": {}, "parents": []},
    ]));
    let bump = |p: &str, n: i64| {
        request(
            obj("User", p),
            obj("Action", "bump"),
            obj("Doc", "x"),
            json!({"n": n}),
        )
    };

    // No error: plain agreement with Cedar, both ways.
    let (body, cedar) = d.check(&bump("ok", 3));
    assert_eq!(cedar.decision(), Decision::Allow);
    assert_eq!(body["decision"], "allow");
    let (body, cedar) = d.check(&bump("ok", -5));
    assert_eq!(cedar.decision(), Decision::Deny);
    assert_eq!(body["decision"], "deny");
    assert_eq!(body["reasons"], json!(["overflow-forbid"]));
    let (_, cedar) = d.check(&bump("bad", 3));
    assert_eq!(cedar.decision(), Decision::Deny);

    // Overflow in a forbid: Cedar skips that policy and allows; Tollgate denies and says why.
    for p in ["ok", "bad"] {
        let req = bump(p, i64::MAX);
        let cedar = d.reference(&req);
        let cedar_errors: Vec<String> = cedar
            .diagnostics()
            .errors()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            cedar_errors.len(),
            1,
            "the overflow is Cedar's one error: {cedar_errors:?}"
        );
        if p == "ok" {
            assert_eq!(
                cedar.decision(),
                Decision::Allow,
                "Cedar itself fails open here"
            );
        }
        let a = d.ask(&req);
        assert_eq!(a.status, 200, "{}", a.raw);
        assert_eq!(a.body["decision"], "deny", "fail closed: {}", a.raw);
        assert_eq!(a.body["status"], 403, "{}", a.raw);
        assert_eq!(a.body["errors"], json!(cedar_errors), "{}", a.raw);
        assert_eq!(
            a.body["reasons"],
            json!(sorted_reasons(&cedar)),
            "{}",
            a.raw
        );
        let mirrored = d
            .app
            .call("POST", "/v1/authorize?mirror=1", Some(&req), None);
        assert_eq!(
            mirrored.status, 403,
            "mirror relays the deny: {}",
            mirrored.raw
        );
    }

    // A principal the store lacks has no `blocked`: Cedar errors on that forbid and allows;
    // Tollgate denies, with the error and a warning naming the principal.
    let req = bump("ghost", 1);
    let cedar = d.reference(&req);
    assert_eq!(
        cedar.decision(),
        Decision::Allow,
        "Cedar fails open on the missing entity"
    );
    assert_eq!(cedar.diagnostics().errors().count(), 1);
    let (body, _) = d.check(&req);
    assert_eq!(body["decision"], "deny");
    assert!(!body["errors"].as_array().expect("errors").is_empty());
    let warnings = body["warnings"].as_array().expect("warnings array");
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().is_some_and(|w| w.contains("ghost"))),
        "{body}"
    );
}

// ---------------------------------------------------------------------------------------------
// Request-supplied entities and entities nobody knows
// ---------------------------------------------------------------------------------------------

fn warned_about(body: &Value, needle: &str) -> bool {
    body["warnings"].as_array().is_some_and(|w| {
        w.iter()
            .any(|w| w.as_str().is_some_and(|s| s.contains(needle)))
    })
}

#[test]
fn request_entities_and_unknown_entities_match_cedar() {
    let mut d = Differential::start(NS_SCHEMA, NS_FILES);
    ns_fixture(&mut d);

    // A resource only the request knows, owned by a stored user.
    let req = json!({
        "principal": obj("App::User", "alice"),
        "action": text("App::Action", "write"),
        "resource": obj("App::Doc", "tmp"),
        "entities": [ns_doc("tmp", "alice", false)],
    });
    let (body, cedar) = d.check(&req);
    assert_eq!(
        cedar.decision(),
        Decision::Allow,
        "owner-writes needs the request's doc"
    );
    assert!(
        !warned_about(&body, "tmp"),
        "no warning for a used request entity: {body}"
    );

    // A request resource whose owner is also only in the request, managed by a stored user:
    // the slice must follow attribute references into request entities.
    let req = json!({
        "principal": text("App::User", "carol"),
        "action": obj("App::Action", "write"),
        "resource": text("App::Doc", "tmp2"),
        "entities": [ns_doc("tmp2", "temp", false), ns_user("temp", &[], Some("carol"))],
    });
    let (_, cedar) = d.check(&req);
    assert_eq!(
        cedar.decision(),
        Decision::Allow,
        "carol manages the request's owner"
    );
    assert_eq!(sorted_reasons(&cedar), ["manager-writes"]);

    // A context delegate only the request knows, under a stored group, owning a request doc.
    let req = json!({
        "principal": obj("App::User", "erin"),
        "action": obj("App::Action", "write"),
        "resource": obj("App::Doc", "tmp3"),
        "context": {"delegate": obj("App::User", "helper")},
        "entities": [ns_user("helper", &["platform"], None), ns_doc("tmp3", "helper", false)],
    });
    let (_, cedar) = d.check(&req);
    assert_eq!(
        cedar.decision(),
        Decision::Allow,
        "helper is under eng through stored groups"
    );
    assert_eq!(sorted_reasons(&cedar), ["delegated-write"]);

    // A request principal whose parent is a stored group deep in the hierarchy.
    let req = json!({
        "principal": obj("App::User", "visitor"),
        "action": obj("App::Action", "list"),
        "resource": obj("App::Doc", "d1"),
        "entities": [ns_user("visitor", &["platform"], None)],
    });
    let (_, cedar) = d.check(&req);
    assert_eq!(
        cedar.decision(),
        Decision::Allow,
        "visitor is under root through stored groups"
    );

    // A request entity that conflicts with a stored one: the stored one wins, with a warning.
    let req = json!({
        "principal": obj("App::User", "erin"),
        "action": obj("App::Action", "read"),
        "resource": obj("App::Doc", "d1"),
        "entities": [ns_doc("d1", "erin", true)],
    });
    let (body, cedar) = d.check(&req);
    assert_eq!(
        cedar.decision(),
        Decision::Deny,
        "the stored d1 is not public"
    );
    assert!(
        warned_about(&body, "d1"),
        "the ignored request entity is named: {body}"
    );
    let req = json!({
        "principal": obj("App::User", "bob"),
        "action": obj("App::Action", "read"),
        "resource": obj("App::Doc", "d2"),
        "entities": [ns_user("bob", &["root"], None)],
    });
    let (body, cedar) = d.check(&req);
    assert_eq!(cedar.decision(), Decision::Deny, "the stored bob is banned");
    assert!(
        warned_about(&body, "bob"),
        "the ignored request entity is named: {body}"
    );

    // A principal neither stored nor sent: evaluated as Cedar does, and named in `warnings`.
    let req = request(
        obj("App::User", "ghost"),
        obj("App::Action", "write"),
        obj("App::Doc", "d1"),
        json!({}),
    );
    let (body, cedar) = d.check(&req);
    assert_eq!(cedar.decision(), Decision::Deny);
    assert_eq!(body["decision"], "deny");
    assert!(
        warned_about(&body, "ghost"),
        "the unknown principal is named: {body}"
    );
    // Cedar allows a public doc to anyone, a stranger included: so must Tollgate.
    let req = request(
        text("App::User", "ghost"),
        obj("App::Action", "read"),
        obj("App::Doc", "d2"),
        json!({}),
    );
    let (body, cedar) = d.check(&req);
    assert_eq!(cedar.decision(), Decision::Allow);
    assert!(
        warned_about(&body, "ghost"),
        "the unknown principal is named: {body}"
    );
    // An unknown resource is named too; it has no attributes, so `resource.public` errors.
    let req = request(
        obj("App::User", "alice"),
        obj("App::Action", "read"),
        obj("App::Doc", "nowhere"),
        json!({}),
    );
    let (body, _) = d.check(&req);
    assert!(
        warned_about(&body, "nowhere"),
        "the unknown resource is named: {body}"
    );
    let req = request(
        obj("App::User", "alice"),
        obj("App::Action", "list"),
        obj("App::Doc", "nowhere"),
        json!({}),
    );
    let (body, cedar) = d.check(&req);
    assert_eq!(
        cedar.decision(),
        Decision::Allow,
        "root-reads needs nothing of the resource"
    );
    assert!(
        warned_about(&body, "nowhere"),
        "the unknown resource is named: {body}"
    );

    // A request entity that fails the schema is a 422, not a decision.
    let req = json!({
        "principal": obj("App::User", "alice"),
        "action": obj("App::Action", "write"),
        "resource": obj("App::Doc", "tmp"),
        "entities": [{"uid": obj("App::Doc", "tmp"), "attrs": {"owner": obj("App::User", "alice"), "public": "yes"}, "parents": []}],
    });
    let a = d.ask(&req);
    assert_eq!(a.status, 422, "{}", a.raw);
}

// ---------------------------------------------------------------------------------------------
// Errors and the generic data API
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_requests_and_entity_data_api_round_trip() {
    let mut d = Differential::start(NS_SCHEMA, NS_FILES);
    ns_fixture(&mut d);

    // An action the schema does not declare, including an un-namespaced twin of a real one.
    for action in [
        obj("App::Action", "nope"),
        text("Action", "read"),
        obj("App::Action", "Read"),
    ] {
        let req = request(
            obj("App::User", "alice"),
            action,
            obj("App::Doc", "d1"),
            json!({}),
        );
        d.expect_422(&req, "UNKNOWN_ACTION");
    }

    // A context that fails schema validation: Cedar refuses it, Tollgate answers 422.
    for ctx in [
        json!({"reason": 5}),
        json!({"extra": true}),
        json!({"reason": ["audit"]}),
    ] {
        let req = request(
            obj("App::User", ""),
            obj("App::Action", "write"),
            obj("App::Doc", "d1"),
            ctx.clone(),
        );
        assert!(d.cedar_refuses(&req), "Cedar refuses {req}");
        d.expect_422(&req, "INVALID_CONTEXT");
    }
    // `read` declares no context: any attribute is invalid.
    let req = request(
        obj("App::User", "alice"),
        obj("App::Action", "read"),
        obj("App::Doc", "d1"),
        json!({"reason": "audit"}),
    );
    assert!(d.cedar_refuses(&req), "Cedar refuses {req}");
    d.expect_422(&req, "INVALID_CONTEXT");

    // PUT with one schema-invalid entity: 422 and nothing of the batch is written.
    let newbie = ns_user("newbie", &["root"], None);
    for bad in [
        json!({"uid": obj("App::Doc", "bad"), "attrs": {"owner": obj("App::User", "alice"), "public": "yes"}, "parents": []}),
        json!({"uid": obj("App::Doc", "bad"), "attrs": {"public": true}, "parents": []}),
        json!({"uid": obj("App::Doc", "bad"), "attrs": {"owner": obj("App::User", "alice"), "public": true},
               "parents": [obj("App::Group", "root")]}),
        json!({"uid": obj("App::Ghost", "bad"), "attrs": {}, "parents": []}),
        json!({"uid": obj("App::Doc", "bad"), "attrs": {"owner": obj("App::User", "alice"), "public": true,
               "undeclared": 1}, "parents": []}),
        json!({"uid": obj("App::Doc", "bad"), "attrs": {"owner": obj("App::Group", "root"), "public": true},
               "parents": []}),
    ] {
        assert!(
            Entity::from_json_value(bad.clone(), Some(&d.schema)).is_err(),
            "Cedar refuses {bad}"
        );
        let a = d.app.admin(
            "PUT",
            "/v1/entities",
            Some(json!([newbie.clone(), bad.clone()])),
        );
        assert_eq!(a.status, 422, "{bad} answered {}: {}", a.status, a.raw);
        assert!(a.body["code"].is_string(), "{}", a.raw);
        assert_eq!(
            d.app
                .admin("GET", "/v1/entities/App::User/newbie", None)
                .status,
            404
        );
        assert_eq!(
            d.app.admin("GET", "/v1/entities/App::Doc/bad", None).status,
            404
        );
    }
    // ...so newbie is still unknown to decisions.
    let req = request(
        obj("App::User", "newbie"),
        obj("App::Action", "list"),
        obj("App::Doc", "d1"),
        json!({}),
    );
    let (body, cedar) = d.check(&req);
    assert_eq!(cedar.decision(), Decision::Deny);
    assert!(warned_about(&body, "newbie"), "{body}");

    // GET returns what PUT stored, for a namespaced type.
    let a = d.app.admin("GET", "/v1/entities/App::User/alice", None);
    assert_eq!(a.status, 200, "{}", a.raw);
    let got = Entity::from_json_value(a.body.clone(), Some(&d.schema)).expect("entity JSON");
    let want = Entity::from_json_value(ns_user("alice", &["platform"], None), Some(&d.schema))
        .expect("entity");
    assert_eq!(got, want);
    let a = d.app.admin("GET", "/v1/entities/App::Doc/d1", None);
    assert_eq!(a.status, 200, "{}", a.raw);
    let got = Entity::from_json_value(a.body.clone(), Some(&d.schema)).expect("entity JSON");
    let want =
        Entity::from_json_value(ns_doc("d1", "dave", false), Some(&d.schema)).expect("entity");
    assert_eq!(got, want);
    assert_eq!(
        d.app
            .admin("GET", "/v1/entities/App::User/nobody", None)
            .status,
        404
    );

    // DELETE, then GET is a 404, a second DELETE is a 404, and decisions see the deletion.
    let list_d1 = request(
        obj("App::User", "alice"),
        obj("App::Action", "list"),
        obj("App::Doc", "d1"),
        json!({}),
    );
    let (_, cedar) = d.check(&list_d1);
    assert_eq!(cedar.decision(), Decision::Allow);
    let a = d.app.admin("DELETE", "/v1/entities/App::User/alice", None);
    assert!(
        a.status == 200 || a.status == 204,
        "DELETE answered {}: {}",
        a.status,
        a.raw
    );
    d.forget(&wire_uid(&text("App::User", "alice")));
    assert_eq!(
        d.app
            .admin("GET", "/v1/entities/App::User/alice", None)
            .status,
        404
    );
    let again = d.app.admin("DELETE", "/v1/entities/App::User/alice", None);
    assert_eq!(again.status, 404, "{}", again.raw);
    let (body, cedar) = d.check(&list_d1);
    assert_eq!(cedar.decision(), Decision::Deny, "alice is gone");
    assert!(warned_about(&body, "alice"), "{body}");

    // Deleting a group in the middle of the chain cuts everyone below it.
    let a = d.app.admin("DELETE", "/v1/entities/App::Group/dept", None);
    assert!(
        a.status == 200 || a.status == 204,
        "DELETE answered {}: {}",
        a.status,
        a.raw
    );
    d.forget(&wire_uid(&text("App::Group", "dept")));
    let req = request(
        obj("App::User", ""),
        obj("App::Action", "list"),
        obj("App::Doc", "d1"),
        json!({}),
    );
    let (_, cedar) = d.check(&req);
    assert_eq!(
        cedar.decision(),
        Decision::Deny,
        "eng is no longer under root"
    );

    // A batch answers good items as Cedar does and puts each bad one's error in its slot.
    let good = request(
        obj("App::User", "bob"),
        obj("App::Action", "read"),
        obj("App::Doc", "d2"),
        json!({}),
    );
    let unknown_action = request(
        obj("App::User", "bob"),
        obj("App::Action", "nope"),
        obj("App::Doc", "d2"),
        json!({}),
    );
    let bad_context = request(
        obj("App::User", "bob"),
        obj("App::Action", "write"),
        obj("App::Doc", "d2"),
        json!({"reason": 1}),
    );
    let other = request(
        text("App::User", "carol"),
        text("App::Action", "write"),
        text("App::Doc", "d1"),
        json!({"reason": "x"}),
    );
    let a = d.app.call(
        "POST",
        "/v1/authorize/batch",
        Some(&json!({"requests": [good, unknown_action, bad_context, other]})),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.raw);
    let results = a.body["results"].as_array().expect("results");
    assert_eq!(results.len(), 4, "{}", a.raw);
    assert_eq!(
        comparable(&results[0]),
        expected_answer(&d.reference(&good))
    );
    assert_eq!(results[1]["error"]["code"], "UNKNOWN_ACTION", "{}", a.raw);
    assert_eq!(results[2]["error"]["code"], "INVALID_CONTEXT", "{}", a.raw);
    assert_eq!(
        comparable(&results[3]),
        expected_answer(&d.reference(&other))
    );

    // Empty and Unicode ids round-trip through DELETE as well.
    for id in ["", "ünï😀"] {
        let path = format!("/v1/entities/App::User/{}", seg(id));
        assert_eq!(d.app.admin("GET", &path, None).status, 200, "GET {id:?}");
        let a = d.app.admin("DELETE", &path, None);
        assert!(
            a.status == 200 || a.status == 204,
            "DELETE {id:?} answered {}: {}",
            a.status,
            a.raw
        );
        d.forget(&wire_uid(&text("App::User", id)));
        assert_eq!(
            d.app.admin("GET", &path, None).status,
            404,
            "GET {id:?} after DELETE"
        );
    }
    let mut reqs = Vec::new();
    for (n, p) in NS_USERS.iter().enumerate() {
        for r in NS_DOCS {
            for a in NS_ACTIONS {
                reqs.push(request(
                    either(n, "App::User", p),
                    obj("App::Action", a),
                    obj("App::Doc", r),
                    json!({}),
                ));
            }
        }
    }
    d.check_all(&reqs);
}

/// "Unknown fields in a write are a 422" (Common rules). Cedar's own entity parser ignores an
/// unknown top-level key, so a typo such as `tag` for `tags` would silently drop data.
#[test]
fn put_entities_refuses_unknown_entity_fields() {
    let d = Differential::start(TAGS_SCHEMA, &[("tags.cedar", TAGS_POLICIES)]);
    let typo = json!({"uid": obj("Doc", "t"), "attrs": {"color": obj("Color", "red")}, "parents": [],
                      "tag": {"secret": "yes"}});
    let a = d.app.admin("PUT", "/v1/entities", Some(json!([typo])));
    assert_eq!(
        a.status, 422,
        "an entity with an unknown field answered {}: {}",
        a.status, a.raw
    );
    assert_eq!(d.app.admin("GET", "/v1/entities/Doc/t", None).status, 404);
}

/// Two request entities with the same uid: Cedar refuses such an entity set (`duplicate entity
/// entry`), and so does Tollgate, with a 422 rather than a guess at which one was meant.
#[test]
fn duplicate_request_entities_are_refused() {
    let mut d = Differential::start(NS_SCHEMA, NS_FILES);
    ns_fixture(&mut d);
    let dup = json!([ns_user("zed", &["root"], None), ns_user("zed", &[], None)]);
    assert!(Entities::from_json_value(dup.clone(), Some(&d.schema)).is_err());
    let req = json!({
        "principal": obj("App::User", "zed"),
        "action": obj("App::Action", "list"),
        "resource": obj("App::Doc", "d1"),
        "entities": dup,
    });
    let a = d.ask(&req);
    assert_eq!(
        a.status, 422,
        "duplicate request entities answered {}: {}",
        a.status, a.raw
    );
    assert_eq!(a.body["code"], "DUPLICATE_ENTITY", "{}", a.raw);
}
