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

-- One request as its parts: user, action, resource type and id, context JSON. Both spellings
-- below draw the same random numbers, so a seed gives the same requests through either.
function M.request_parts()
  local o = math.random(0, M.org_pool - 1)
  local u = M.user_of(o)
  if math.random() < 0.25 then
    local k = math.floor((M.wss - 1 - o) / M.orgs)
    local w = o + M.orgs * math.random(0, math.max(k, 0))
    local a = M.ws_actions[math.random(#M.ws_actions)]
    return u, a, "Workspace", "w" .. w, nil
  end
  local a = M.org_actions[math.random(#M.org_actions)]
  return u, a[1], "Org", "o" .. o, a[2]
end

function M.request_body()
  local u, a, t, id, ctx = M.request_parts()
  if ctx == nil then
    return string.format('{"principal":{"type":"User","id":"u%d"},"action":{"type":"Action","id":"%s"},"resource":{"type":"%s","id":"%s"}}', u, a, t, id)
  end
  return string.format('{"principal":{"type":"User","id":"u%d"},"action":{"type":"Action","id":"%s"},"resource":{"type":"%s","id":"%s"},"context":%s}', u, a, t, id, ctx)
end

-- The same request as a Traefik/Caddy forward-auth subrequest, for scripts/wrk/routes.toml:
-- GET /v1/forward-auth with the original method, URI (/orgs/{org}/{action} or
-- /workspaces/{ws}/{action}, invite_user's role in the query) and the identity header.
function M.forward_request()
  local u, a, t, id, ctx = M.request_parts()
  local uri
  if t == "Workspace" then
    uri = string.format("/workspaces/%s/%s", id, a)
  elseif a == "invite_user" then
    uri = string.format("/orgs/%s/%s?role=member", id, a)
  else
    uri = string.format("/orgs/%s/%s", id, a)
  end
  return wrk.format("GET", "/v1/forward-auth", {
    ["X-Forwarded-Method"] = "GET",
    ["X-Forwarded-Uri"] = uri,
    ["X-User-Id"] = "u" .. u,
  }, nil)
end

return M
