-- Tollgate store, migration 1. Every table is keyed for point and per-org range reads: the
-- decision path never scans beyond one org's rows.

-- Generic Cedar entities (any schema), stored as Cedar entity JSON with explicit escapes.
CREATE TABLE entities (
    etype TEXT NOT NULL,
    eid   TEXT NOT NULL,
    json  TEXT NOT NULL,
    PRIMARY KEY (etype, eid)
) WITHOUT ROWID;

CREATE TABLE orgs (
    id             TEXT PRIMARY KEY,
    plan           TEXT NOT NULL,
    status         TEXT NOT NULL,
    past_due_since INTEGER,
    primary_owner  TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE members (
    org        TEXT NOT NULL,
    user       TEXT NOT NULL,
    role       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org, user)
) WITHOUT ROWID;

CREATE TABLE invitations (
    org        TEXT NOT NULL,
    id         TEXT NOT NULL,
    email      TEXT NOT NULL,
    role       TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org, id)
) WITHOUT ROWID;

CREATE TABLE workspaces (
    id         TEXT PRIMARY KEY,
    org        TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX workspaces_by_org ON workspaces (org, id);

CREATE TABLE workspace_members (
    workspace           TEXT NOT NULL,
    user                TEXT NOT NULL,
    role                TEXT NOT NULL,
    can_create_agents   INTEGER NOT NULL,
    can_modify_policies INTEGER NOT NULL,
    can_invite_users    INTEGER NOT NULL,
    can_view_analytics  INTEGER NOT NULL,
    PRIMARY KEY (workspace, user)
) WITHOUT ROWID;

-- Custom roles, per org (plan feature `custom_roles`).
CREATE TABLE roles (
    org         TEXT NOT NULL,
    name        TEXT NOT NULL,
    level       INTEGER NOT NULL,
    permissions TEXT NOT NULL,
    PRIMARY KEY (org, name)
) WITHOUT ROWID;

-- App-owned quota counters (`quota:project`, ...).
CREATE TABLE usage (
    org           TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    current       INTEGER NOT NULL,
    PRIMARY KEY (org, resource_type)
) WITHOUT ROWID;

-- Counters Tollgate maintains in the same transaction as the rows they count, so reading an
-- org's seat use is a few point reads instead of a count over its members.
-- Keys: `role:<name>` (members holding a role), `workspaces`.
CREATE TABLE counters (
    org TEXT NOT NULL,
    key TEXT NOT NULL,
    n   INTEGER NOT NULL,
    PRIMARY KEY (org, key)
) WITHOUT ROWID;

-- Reservations made by `reserve` on a decision (billing).
CREATE TABLE reservations (
    id            TEXT PRIMARY KEY,
    org           TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    amount        INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    released_at   INTEGER
) WITHOUT ROWID;

-- Audit trail, written in the same transaction as the change it records.
CREATE TABLE audit (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    org    TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_by_org ON audit (org, seq);
