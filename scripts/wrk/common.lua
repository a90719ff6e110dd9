-- Shared by the load mixes: the generated data's shape (scripts/gen_data.py). User u<k>
-- belongs to org o<k % orgs>, the first member of each org (u<o>) is its primary owner, and
-- workspace w<j> belongs to org o<j % orgs>.
local M = {}

M.org_actions = {
  {"view_org", "{}"}, {"view_subscription_usage", "{}"}, {"create_project", "{}"},
  {"create_workspace", "{}"}, {"view_audit_logs", "{}"}, {"update_retention_policy", "{}"},
  {"configure_sso", "{}"}, {"start_checkout", "{}"}, {"invite_user", '{"role":"member"}'},
}
M.ws_actions = {"view_workspace", "create_agent", "view_analytics"}

-- Arguments: orgs users workspaces [seed [unused unused [org_pool users_per_org]]]. The
-- pool arguments (0 = none) restrict the requests to the first org_pool orgs and the first
-- users_per_org members of each: the same working set on a bigger store.
function M.setup(args)
  M.orgs = tonumber(args[1]); M.users = tonumber(args[2]); M.wss = tonumber(args[3])
  M.org_pool = tonumber(args[7] or "0"); M.users_per_org = tonumber(args[8] or "0")
  if M.org_pool <= 0 or M.org_pool > M.orgs then M.org_pool = M.orgs end
  local seed = tonumber(args[4] or "1")
  math.randomseed(seed + math.floor(os.clock() * 1e6))
end

-- A user of org o: its primary owner 30% of the time (so plan gates answer 402), else a member.
function M.user_of(o)
  if math.random() < 0.3 then return o end
  local k = math.floor((M.users - 1 - o) / M.orgs)
  if M.users_per_org > 0 then k = math.min(k, M.users_per_org - 1) end
  return o + M.orgs * math.random(0, k)
end

function M.request_body()
  local o = math.random(0, M.org_pool - 1)
  local u = M.user_of(o)
  if math.random() < 0.25 then
    local k = math.floor((M.wss - 1 - o) / M.orgs)
    local w = o + M.orgs * math.random(0, math.max(k, 0))
    local a = M.ws_actions[math.random(#M.ws_actions)]
    return string.format('{"principal":{"type":"User","id":"u%d"},"action":{"type":"Action","id":"%s"},"resource":{"type":"Workspace","id":"w%d"}}', u, a, w)
  end
  local a = M.org_actions[math.random(#M.org_actions)]
  return string.format('{"principal":{"type":"User","id":"u%d"},"action":{"type":"Action","id":"%s"},"resource":{"type":"Org","id":"o%d"},"context":%s}', u, a[1], o, a[2])
end

return M
