#!/usr/bin/env bash
# A tour of Tollgate's API against a running daemon: create an org, add members, ask decisions,
# and see a 402. Start the daemon first (`cargo run --release`), then run this script.
#   TOLLGATE_URL    default http://127.0.0.1:8181
#   TOLLGATE_ADMIN_TOKEN  default: read from ./tollgate.admin-token (generated on first start)
set -euo pipefail
URL=${TOLLGATE_URL:-http://127.0.0.1:8181}
TOKEN=${TOLLGATE_ADMIN_TOKEN:-$(cat tollgate.admin-token)}

admin() { # METHOD PATH [BODY]
  curl -sS -X "$1" "$URL$2" -H "Authorization: Bearer $TOKEN" \
       -H 'Content-Type: application/json' ${3:+-d "$3"}; echo
}
ask() { # PRINCIPAL ACTION RESOURCE-TYPE RESOURCE-ID [CONTEXT]
  curl -sS -X POST "$URL/v1/authorize" -H 'Content-Type: application/json' -d "{
    \"principal\": {\"type\": \"User\", \"id\": \"$1\"},
    \"action\": {\"type\": \"Action\", \"id\": \"$2\"},
    \"resource\": {\"type\": \"$3\", \"id\": \"$4\"},
    \"context\": ${5:-{\}} }"; echo
}

echo "# an org on the free plan; alice is its primary owner"
admin PUT /v1/orgs/acme '{"plan": "free", "subscription_status": "active", "primary_owner": "alice"}'
echo "# two members"
admin PUT /v1/orgs/acme/members/mia '{"role": "member"}'
admin PUT /v1/orgs/acme/members/vic '{"role": "viewer"}'
echo "# a member may create a project (allow), a viewer may not (deny, 403)"
ask mia create_project Org acme
ask vic create_project Org acme
echo "# audit logs are an enterprise feature: the owner gets 402 with required_plan"
ask alice view_audit_logs Org acme
echo "# seat:total is 3 on free and 3 seats are taken: inviting one more is a 402"
ask alice invite_user Org acme '{"role": "member"}'
echo "# the same limit holds inside the data API"
admin PUT /v1/orgs/acme/members/bob '{"role": "member"}'
echo "# what the UI should show mia"
curl -sS -X POST "$URL/v1/permissions" -H 'Content-Type: application/json' \
  -d '{"principal": "User::\"mia\"", "resource": "Org::\"acme\""}'; echo
echo "# upgrade, and the same invite is allowed"
admin PUT /v1/orgs/acme '{"plan": "starter"}'
ask alice invite_user Org acme '{"role": "member"}'
admin GET /v1/orgs/acme/usage
