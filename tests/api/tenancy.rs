//! Tenants never mix: nothing stored or sent for one org grants inside another — not an
//! entity left under a deleted workspace whose id another org then takes, not a workspace of
//! another org named among a resource's parents.

use serde_json::{json, Value};

use crate::helpers::{req, TestApp};

fn project(id: &str, parents: Value) -> Value {
    json!({"uid": {"type": "Project", "id": id}, "attrs": {}, "parents": parents})
}

fn code(a: &crate::helpers::Answer) -> &str {
    a.body["code"].as_str().unwrap_or("")
}

#[test]
fn a_deleted_workspace_never_hands_its_entities_to_another_org() {
    let app = TestApp::spawn();
    app.org("acme", "enterprise", "alice");
    app.org("mallorycorp", "enterprise", "mallory");
    app.ok("PUT", "/v1/orgs/acme/workspaces/design", json!({}));
    app.ok(
        "PUT",
        "/v1/entities",
        json!([project(
            "secret",
            json!([{"type": "Workspace", "id": "design"}])
        )]),
    );
    let read = req("mallory", "read", ("Project", "secret"), json!({}));
    let delete = req("mallory", "delete", ("Project", "secret"), json!({}));
    assert_eq!(app.authorize(read.clone())["decision"], "deny");

    // The workspace still holds the project: it cannot go.
    let a = app.admin("DELETE", "/v1/orgs/acme/workspaces/design", None);
    assert_eq!(a.status, 409, "{}", a.raw);
    assert_eq!(code(&a), "WORKSPACE_NOT_EMPTY", "{}", a.raw);
    assert!(
        a.body["message"].as_str().unwrap().contains("secret"),
        "{}",
        a.raw
    );
    let org = app.admin("GET", "/v1/orgs/acme", None).body;
    assert_eq!(
        org["workspaces"],
        json!([{"id": "design", "name": "design"}])
    );
    // Nor can mallory take the id while acme holds it.
    let a = app.admin(
        "PUT",
        "/v1/orgs/mallorycorp/workspaces/design",
        Some(json!({})),
    );
    assert_eq!(a.status, 409, "{}", a.raw);

    // Emptied, it goes; mallory's new `design` holds nothing of acme's.
    assert_eq!(
        app.admin("DELETE", "/v1/entities/Project/secret", None)
            .status,
        204
    );
    assert_eq!(
        app.admin("DELETE", "/v1/orgs/acme/workspaces/design", None)
            .status,
        204
    );
    app.ok("PUT", "/v1/orgs/mallorycorp/workspaces/design", json!({}));
    for r in [&read, &delete] {
        let a = app.authorize(r.clone());
        assert_eq!(a["decision"], "deny", "{a}");
    }

    // No entity waits for a future org to create its parent's id.
    for (parent, what) in [
        (json!({"type": "Workspace", "id": "later"}), "workspace"),
        (json!({"type": "Org", "id": "laterco"}), "org"),
    ] {
        let a = app.admin(
            "PUT",
            "/v1/entities",
            Some(json!([project("early", json!([parent]))])),
        );
        assert_eq!(a.status, 422, "{what}: {}", a.raw);
        assert_eq!(code(&a), "UNKNOWN_PARENT", "{what}: {}", a.raw);
        assert_eq!(
            app.admin("GET", "/v1/entities/Project/early", None).status,
            404,
            "{what}: nothing written"
        );
    }
}

#[test]
fn a_workspace_of_another_org_never_grants() {
    let app = TestApp::spawn();
    app.org("acme", "professional", "alice");
    app.member("acme", "bob", "viewer");
    app.org("evil", "professional", "bob");
    app.ok("PUT", "/v1/orgs/evil/workspaces/wsB", json!({}));
    app.ok(
        "PUT",
        "/v1/orgs/evil/workspaces/wsB/members/bob",
        json!({"role": "admin"}),
    );
    let parents = json!([{"type": "Org", "id": "acme"}, {"type": "Workspace", "id": "wsB"}]);
    for action in ["delete", "update", "read"] {
        let mut r = req("bob", action, ("Project", "x"), json!({}));
        r["entities"] = json!([project("x", parents.clone())]);
        let a = app.call("POST", "/v1/authorize", Some(&r), None);
        assert_eq!(a.status, 422, "{action}: {}", a.raw);
        assert_eq!(code(&a), "CROSS_ORG_PARENTS", "{action}: {}", a.raw);
        // The same in a batch slot and in /v1/permissions.
        let b = app.call(
            "POST",
            "/v1/authorize/batch",
            Some(&json!({"requests": [r.clone()]})),
            None,
        );
        assert_eq!(
            b.body["results"][0]["error"]["code"], "CROSS_ORG_PARENTS",
            "{}",
            b.raw
        );
    }
    let p = app.call(
        "POST",
        "/v1/permissions",
        Some(&json!({
            "principal": {"type": "User", "id": "bob"},
            "resource": {"type": "Project", "id": "x"},
            "entities": [project("x", parents.clone())],
        })),
        None,
    );
    assert_eq!(p.status, 422, "{}", p.raw);
    // Nor can such a resource be stored.
    let a = app.admin("PUT", "/v1/entities", Some(json!([project("y", parents)])));
    assert_eq!(a.status, 422, "{}", a.raw);
    assert_eq!(code(&a), "CROSS_ORG_PARENTS", "{}", a.raw);
    // Under acme alone, bob is what acme made him: a viewer, who may read and not delete.
    let mut r = req("bob", "delete", ("Project", "z"), json!({}));
    r["entities"] = json!([project("z", json!([{"type": "Org", "id": "acme"}]))]);
    assert_eq!(app.authorize(r.clone())["decision"], "deny");
    r["action"]["id"] = json!("read");
    assert_eq!(app.authorize(r)["decision"], "allow");
    // And under his own org's workspace, his workspace role counts.
    let mut r = req("bob", "delete", ("Project", "w"), json!({}));
    r["entities"] = json!([project("w", json!([{"type": "Workspace", "id": "wsB"}]))]);
    assert_eq!(app.authorize(r)["decision"], "allow");
}

/// A request may add entities the store lacks, but not place a stored entity: a stored
/// entity's missing parent, sent with parents of its own, would put it under an org of the
/// request's choosing. That request entity is ignored (and said so); sent with none, it still
/// fills the gap.
#[test]
fn a_request_never_places_a_stored_entity_under_another_org() {
    let m = crate::helpers::ModelCopy::new();
    let schema = m.read("tollgate.cedarschema");
    let schema = schema
        .replace(
            "entity Agent in [Org, Workspace];",
            "entity Agent in [Org, Workspace];\nentity Folder in [Folder, Org, Workspace];",
        )
        .replace(
            "resource: [Project, Agent] }",
            "resource: [Project, Agent, Folder] }",
        )
        .replace("entity User = {", "entity User in [Folder] = {");
    assert!(schema.contains("Folder]"), "the test extends the schema");
    m.write("tollgate.cedarschema", &schema);
    let app = TestApp::spawn_owned(m.args(), &[]);
    app.org("acme", "enterprise", "alice");
    app.org("evil", "enterprise", "bob");
    let folder = |id: &str, parents: Value| json!({"uid": {"type": "Folder", "id": id}, "attrs": {}, "parents": parents});
    app.ok(
        "PUT",
        "/v1/entities",
        json!([folder("orphan", json!([{"type": "Folder", "id": "ghost"}]))]),
    );
    let mut r = req("bob", "read", ("Folder", "orphan"), json!({}));
    r["entities"] = json!([folder("ghost", json!([{"type": "Org", "id": "evil"}]))]);
    let a = app.authorize(r.clone());
    assert_eq!(a["decision"], "deny", "{a}");
    assert!(a["warnings"].to_string().contains("ghost"), "{a}");
    // Without parents of its own, the request's `ghost` only fills in what the store lacks.
    r["entities"] = json!([folder("ghost", json!([]))]);
    let a = app.authorize(r);
    assert_eq!(a["decision"], "deny", "{a}");
    assert!(!a["warnings"].to_string().contains("ghost"), "{a}");
    // Reached first by another path (as the resource), the request's `ghost` is still not
    // the parent of a stored entity: a stored user under it makes the request a 422.
    app.ok(
        "PUT",
        "/v1/entities",
        json!([{"uid": {"type": "User", "id": "carl"}, "attrs": {},
                "parents": [{"type": "Folder", "id": "ghost"}]}]),
    );
    let mut r = req("carl", "read", ("Folder", "ghost"), json!({}));
    r["entities"] = json!([folder("ghost", json!([{"type": "Org", "id": "evil"}]))]);
    let a = app.call("POST", "/v1/authorize", Some(&r), None);
    assert_eq!(a.status, 422, "{}", a.raw);
    assert_eq!(code(&a), "PROVIDED_ANCESTOR", "{}", a.raw);
}

/// The same for an entity a stored entity names in an attribute: the request may not give it
/// parents (here, put it under the org a policy grants in).
#[test]
fn a_request_never_places_what_a_stored_entity_names() {
    let m = crate::helpers::ModelCopy::new();
    let schema = m
        .read("tollgate.cedarschema")
        .replace(
            "entity Agent in [Org, Workspace];",
            "entity Agent in [Org, Workspace];\nentity Folder in [Folder, Org, Workspace] = { link?: Folder };",
        )
        .replace(
            "resource: [Project, Agent] }",
            "resource: [Project, Agent, Folder] }",
        );
    m.write("tollgate.cedarschema", &schema);
    m.write(
        "policies/zz_linked.cedar",
        "@id(\"t.linked\")\npermit (principal, action == Action::\"read\", resource is Folder)\nwhen { resource has link && resource.link in Org::\"evil\" };\n",
    );
    let app = TestApp::spawn_owned(m.args(), &[]);
    app.org("acme", "enterprise", "alice");
    app.org("evil", "enterprise", "bob");
    app.ok(
        "PUT",
        "/v1/entities",
        json!([{"uid": {"type": "Folder", "id": "d2"}, "attrs": {"link": {"__entity": {"type": "Folder", "id": "f9"}}},
                "parents": [{"type": "Org", "id": "acme"}]}]),
    );
    let mut r = req("bob", "read", ("Folder", "d2"), json!({}));
    r["entities"] = json!([{"uid": {"type": "Folder", "id": "f9"}, "attrs": {},
                            "parents": [{"type": "Org", "id": "evil"}]}]);
    let a = app.authorize(r);
    assert_eq!(a["decision"], "deny", "{a}");
    assert!(a["warnings"].to_string().contains("f9"), "{a}");
}
