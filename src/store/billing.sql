-- Billing (Stripe): what the webhook has applied, so each event applies at most once and an
-- older event never overwrites a newer state. Decisions never read these tables: a plan
-- change reaches them through the org row it writes.

-- Every event id seen, with what it did (`applied`, `duplicate` never reaches here,
-- `ignored`, `stale`, `pending`, `unknown_price`, `unknown_org`, ...).
CREATE TABLE stripe_events (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    created     INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    outcome     TEXT NOT NULL
) WITHOUT ROWID;

-- Which org a Stripe customer pays for (from a completed checkout, or a subscription's
-- `metadata.org_id`).
CREATE TABLE stripe_customers (
    customer TEXT PRIMARY KEY,
    org      TEXT NOT NULL
) WITHOUT ROWID;

-- Each subscription's last applied state: its org, the `created` of the last event applied
-- to it (the ordering clock), and what that left.
CREATE TABLE stripe_subscriptions (
    id             TEXT PRIMARY KEY,
    org            TEXT NOT NULL,
    customer       TEXT,
    status         TEXT NOT NULL,
    plan           TEXT,
    past_due_since INTEGER,
    last_created   INTEGER NOT NULL,
    last_event     TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX stripe_subscriptions_by_org ON stripe_subscriptions (org, id);

-- Events for a customer not yet linked to an org, kept until the link arrives, then applied in
-- (created, arrival) order.
CREATE TABLE stripe_pending (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT NOT NULL UNIQUE,
    customer     TEXT NOT NULL,
    created      INTEGER NOT NULL,
    event        TEXT NOT NULL
);
CREATE INDEX stripe_pending_by_customer ON stripe_pending (customer, created, seq);
