#!/usr/bin/env python3
"""Replays an org's Stripe billing lifecycle against a running Tollgate and prints how its
decisions change: free -> checkout -> subscription active (professional) -> past due within
the grace period -> past due beyond it -> canceled.

Every stage is a signed `POST /webhooks/stripe`, signed the way Stripe signs: the header is
`Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed by the whole
whsec_... secret>`. Only the Python standard library is used.

Start the daemon with the same secret and the price-to-plan map this script assumes:

    STRIPE_WEBHOOK_SECRET=whsec_demo TOLLGATE_STRIPE_PRICES=price_professional=professional \\
        cargo run --release
    STRIPE_WEBHOOK_SECRET=whsec_demo python3 examples/stripe-lifecycle.py --check

The grace-expiry stage uses a second org, `<org>-late`. A webhook cannot move the daemon's
clock, and an event older than one already applied changes nothing, so that org's events get
`created` times `--grace-days` + 1 days in the past (the signature's `t` is always now: only
the event's own `created` is old, and Tollgate counts the grace from it).

Exit status: 0 when all went through (and, with --check, every decision was the expected one),
1 when --check found a different decision, 2 when an HTTP call failed.
"""

import argparse
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid

DAY = 86400
API_VERSION = "2025-03-31.basil"
ACTIONS = ("create_workspace", "view_org", "start_checkout")


class Failure(Exception):
    """An HTTP call that failed unexpectedly: the run stops with exit 2."""


def http(method, url, body=None, headers=None, raw=None):
    """One request; answers (status, parsed JSON or None, text). Non-2xx answers are returned,
    not raised: the caller decides what is expected. Connection errors raise Failure."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, text = resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        raise Failure("%s %s: %s (is the daemon running?)" % (method, url, e))
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    return status, parsed, text


class Lifecycle:
    def __init__(self, args):
        self.org = args.org
        self.url = args.url.rstrip("/")
        self.secret = args.secret
        self.token = args.admin_token
        self.price = args.price
        self.grace_days = args.grace_days
        self.check = args.check
        self.mismatches = []
        self.last = {}  # org -> {action: shown value}, to mark what changed

    # --- admin API -------------------------------------------------------------------
    def admin(self, method, path, body):
        status, _, text = http(method, self.url + path, body,
                               {"Authorization": "Bearer " + self.token})
        if status not in (200, 201):
            raise Failure("%s %s answered %d: %s" % (method, path, status, text.strip()))
        return status

    def make_org(self, org):
        status = self.admin("PUT", "/v1/orgs/" + org, {"plan": "free", "primary_owner": "alice"})
        # Workspace ids are global: one per org.
        self.admin("PUT", "/v1/orgs/%s/workspaces/%s-ws1" % (org, org), {"name": "ws1"})
        print("org %s: %s on free, primary owner alice, one workspace (free allows 1)"
              % (org, "created" if status == 201 else "reset"))

    # --- webhooks --------------------------------------------------------------------
    def send(self, event):
        body = json.dumps(event, separators=(",", ":"))
        t = int(time.time())
        v1 = hmac.new(self.secret.encode("utf-8"), ("%d.%s" % (t, body)).encode("utf-8"),
                      hashlib.sha256).hexdigest()
        status, parsed, text = http("POST", self.url + "/webhooks/stripe",
                                    raw=body.encode("utf-8"),
                                    headers={"Stripe-Signature": "t=%d,v1=%s" % (t, v1)})
        code = parsed.get("code") if isinstance(parsed, dict) else None
        if status == 503 and code == "STRIPE_NOT_CONFIGURED":
            raise Failure("the daemon has no webhook secret (503 STRIPE_NOT_CONFIGURED): start it "
                          "with STRIPE_WEBHOOK_SECRET=<the --secret given here> and "
                          "TOLLGATE_STRIPE_PRICES=%s=professional" % self.price)
        if status == 400:
            raise Failure("webhook %s refused (400): %s\n  a bad signature: is --secret the "
                          "daemon's STRIPE_WEBHOOK_SECRET?" % (event["type"], text.strip()))
        if not 200 <= status < 300:
            raise Failure("webhook %s answered %d: %s" % (event["type"], status, text.strip()))
        print("  webhook %-34s created=%s -> %d %s"
              % (event["type"], stamp(event["created"]), status, compact(parsed, text)))

    # --- decisions -------------------------------------------------------------------
    def decide(self, org, action):
        req = {"principal": {"type": "User", "id": "alice"},
               "action": {"type": "Action", "id": action},
               "resource": {"type": "Org", "id": org}}
        status, parsed, text = http("POST", self.url + "/v1/authorize", req,
                                    {"Authorization": "Bearer " + self.token})
        if status != 200 or not isinstance(parsed, dict) or "decision" not in parsed:
            raise Failure("authorize %s on %s answered %d: %s" % (action, org, status, text.strip()))
        return parsed

    def show(self, stage, org, expect):
        """Prints the decisions after a stage; with --check, notes each unexpected one.
        `expect` maps an action to its expected decision (an action left out is not checked)."""
        parts, before = [], self.last.get(org, {})
        now = {}
        for action in ACTIONS:
            d = self.decide(org, action)
            shown = d["decision"]
            if shown == "payment_required":
                shown += "(required_plan=%s)" % (d.get("payment") or {}).get("required_plan")
            now[action] = shown
            part = "%s=%s" % (action, shown)
            if action in before and before[action] != shown:
                part += " [was %s]" % before[action]
            want = expect.get(action)
            if want is not None and d["decision"] != want:
                part += " [EXPECTED %s]" % want
                self.mismatches.append("%s, %s: %s is %s, expected %s"
                                       % (stage, org, action, d["decision"], want))
            parts.append(part)
        self.last[org] = now
        print("after %s: %s" % (stage, " ".join(parts)))

    # --- the lifecycle ---------------------------------------------------------------
    def run(self):
        org, late = self.org, self.org + "-late"
        g = self.grace_days
        always = {"view_org": "allow", "start_checkout": "allow"}

        header("free (no event)")
        self.make_org(org)
        self.show("free", org, dict(always, create_workspace="payment_required"))

        # The first org's events are a few minutes old, in order: its past due began minutes
        # ago, well within the grace period.
        t0 = int(time.time()) - 600
        header("checkout.session.completed")
        self.send(checkout_completed(org, t0))
        self.show("checkout", org, always)  # the plan comes with the subscription, next

        header("customer.subscription.created (active, %s)" % self.price)
        self.send(subscription_event("customer.subscription.created", org, "active",
                                     self.price, t0 + 60))
        self.show("active professional", org, dict(always, create_workspace="allow"))

        header("invoice.payment_failed + customer.subscription.updated (past_due)")
        self.send(invoice_payment_failed(org, t0 + 120))
        self.send(subscription_event("customer.subscription.updated", org, "past_due",
                                     self.price, t0 + 180))
        self.show("past_due in grace", org, dict(always, create_workspace="allow"))

        header("grace expired: org %s went past due %d days ago (grace %d days)" % (late, g + 1, g))
        self.make_org(late)
        t1 = int(time.time()) - (g + 1) * DAY - 300
        self.send(checkout_completed(late, t1))
        self.send(subscription_event("customer.subscription.created", late, "active",
                                     self.price, t1 + 60))
        self.send(invoice_payment_failed(late, t1 + 120))
        self.send(subscription_event("customer.subscription.updated", late, "past_due",
                                     self.price, t1 + 180))
        self.show("grace expired", late, dict(always, create_workspace="payment_required"))

        header("customer.subscription.deleted (canceled) on %s" % org)
        self.send(subscription_event("customer.subscription.deleted", org, "canceled",
                                     self.price, t0 + 240))
        self.show("canceled", org, dict(always, create_workspace="payment_required"))


# --- events, in the 2025-03-31.basil shapes (only the fields that matter, and their neighbours)
def envelope(type_, obj, created):
    return {"id": "evt_" + uuid.uuid4().hex, "object": "event", "api_version": API_VERSION,
            "created": created, "type": type_, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "data": {"object": obj}}


def checkout_completed(org, created):
    return envelope("checkout.session.completed", {
        "id": "cs_test_" + uuid.uuid4().hex, "object": "checkout.session",
        "client_reference_id": org, "customer": "cus_" + org, "subscription": "sub_" + org,
        "mode": "subscription", "metadata": {}, "status": "complete", "payment_status": "paid",
        "amount_total": 4900, "currency": "usd", "created": created, "livemode": False,
    }, created)


def subscription_event(type_, org, status, price, created):
    deleted = type_ == "customer.subscription.deleted"
    item = {"id": "si_" + org, "object": "subscription_item", "created": created,
            "current_period_start": created, "current_period_end": created + 30 * DAY,
            "metadata": {}, "quantity": 1, "subscription": "sub_" + org,
            "price": {"id": price, "object": "price", "active": True, "currency": "usd",
                      "lookup_key": None, "product": "prod_professional", "type": "recurring",
                      "recurring": {"interval": "month", "interval_count": 1,
                                    "usage_type": "licensed"},
                      "unit_amount": 4900}}
    return envelope(type_, {
        "id": "sub_" + org, "object": "subscription", "customer": "cus_" + org,
        "status": status, "metadata": {}, "created": created, "start_date": created,
        "cancel_at_period_end": False, "canceled_at": created if deleted else None,
        "ended_at": created if deleted else None, "livemode": False,
        "items": {"object": "list", "data": [item], "has_more": False, "total_count": 1,
                  "url": "/v1/subscription_items?subscription=sub_" + org},
    }, created)


def invoice_payment_failed(org, created):
    return envelope("invoice.payment_failed", {
        "id": "in_" + uuid.uuid4().hex[:24], "object": "invoice", "customer": "cus_" + org,
        "status": "open", "attempted": True, "attempt_count": 1, "paid": False,
        "billing_reason": "subscription_cycle", "amount_due": 4900, "amount_paid": 0,
        "currency": "usd", "created": created, "livemode": False,
        "parent": {"type": "subscription_details", "quote_details": None,
                   "subscription_details": {"subscription": "sub_" + org, "metadata": {}}},
    }, created)


def header(title):
    print("\n== " + title)


def stamp(t):
    ago = int(time.time()) - t
    return "%d (%s ago)" % (t, "%dd %dh" % (ago // DAY, ago % DAY // 3600) if ago >= DAY
                            else "%dm %ds" % (ago // 60, ago % 60))


def compact(parsed, text):
    s = json.dumps(parsed, separators=(",", ":")) if parsed is not None else text.strip()
    return s if len(s) <= 160 else s[:157] + "..."


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:8181")
    p.add_argument("--secret", default=None,
                   help="the daemon's webhook secret (default: $STRIPE_WEBHOOK_SECRET)")
    p.add_argument("--admin-token", default=None,
                   help="default: $TOLLGATE_ADMIN_TOKEN, else ./tollgate.admin-token")
    p.add_argument("--org", default="acme-lifecycle")
    p.add_argument("--price", default="price_professional",
                   help="a price TOLLGATE_STRIPE_PRICES maps to professional")
    p.add_argument("--grace-days", type=int, default=7,
                   help="the daemon's past-due grace period (TOLLGATE_PAST_DUE_GRACE_DAYS)")
    p.add_argument("--check", action="store_true",
                   help="exit 1 when a decision differs from the expected one")
    args = p.parse_args()
    args.secret = args.secret or os.environ.get("STRIPE_WEBHOOK_SECRET")
    args.admin_token = args.admin_token or os.environ.get("TOLLGATE_ADMIN_TOKEN")
    if not args.admin_token:
        try:
            with open("tollgate.admin-token") as f:
                args.admin_token = f.read().strip()
        except OSError:
            pass
    if not args.secret:
        p.error("no webhook secret: pass --secret or set STRIPE_WEBHOOK_SECRET")
    if not args.admin_token:
        p.error("no admin token: pass --admin-token, set TOLLGATE_ADMIN_TOKEN, "
                "or run where tollgate.admin-token is")
    if args.grace_days < 0:
        p.error("--grace-days must not be negative")

    life = Lifecycle(args)
    try:
        life.run()
    except Failure as e:
        print("\nerror: %s" % e, file=sys.stderr)
        return 2
    if life.mismatches:
        print("\n%d unexpected decision(s):" % len(life.mismatches), file=sys.stderr)
        for m in life.mismatches:
            print("  " + m, file=sys.stderr)
        return 1 if args.check else 0
    print("\nall decisions as expected" if args.check else "\ndone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
