#!/usr/bin/env python3
"""Generates a Tollgate import file (JSON lines) of a given size, deterministically.

    scripts/gen_data.py --orgs 50000 --users 900000 --workspaces 50000 > data.jsonl
    tollgate import data.jsonl --db big.db

Every user belongs to exactly one org (the first member of each org is its primary owner);
roles follow a realistic mix; plans cycle through the catalog's tiers; each workspace gets a
few members with permission flags; a share of orgs carry app-owned quota usage.
"""
import argparse
import json
import random
import sys

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--orgs", type=int, default=50_000)
ap.add_argument("--users", type=int, default=900_000)
ap.add_argument("--workspaces", type=int, default=50_000)
ap.add_argument("--seed", type=int, default=7)
a = ap.parse_args()
rnd = random.Random(a.seed)
out = sys.stdout
w = out.write
plans = ["free", "starter", "professional", "enterprise"]
roles = ["admin"] * 1 + ["member"] * 6 + ["viewer"] * 3
members_of = [[] for _ in range(a.orgs)]
for u in range(a.users):
    members_of[u % a.orgs].append(f"u{u}")
for o in range(a.orgs):
    ms = members_of[o]
    owner = ms[0] if ms else f"owner{o}"
    w(json.dumps({"org": {"id": f"o{o}", "plan": plans[o % 4], "primary_owner": owner}}) + "\n")
    for u in ms[1:]:
        w(json.dumps({"member": {"org": f"o{o}", "user": u, "role": rnd.choice(roles)}}) + "\n")
    if o % 3 == 0:
        w(json.dumps({"usage": {"org": f"o{o}", "resource_type": "quota:project", "current": rnd.randint(0, 12)}}) + "\n")
for ws in range(a.workspaces):
    o = ws % a.orgs
    w(json.dumps({"workspace": {"org": f"o{o}", "id": f"w{ws}"}}) + "\n")
    for u in members_of[o][1:3]:
        perms = {"can_create_agents": rnd.random() < 0.5, "can_view_analytics": rnd.random() < 0.5}
        w(json.dumps({"workspace_member": {"workspace": f"w{ws}", "user": u, "permissions": perms}}) + "\n")
