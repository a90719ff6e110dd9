-- Mix "forward": the requests of the repeating mix (same seed, same 300 requests), each sent as
-- a forward-auth subrequest through scripts/wrk/routes.toml instead of a /v1/authorize body:
-- what the route match and the header mapping cost on top of the same decisions.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
local c = require("common")
local reqs = {}
function init(args)
  c.setup(args)
  math.randomseed(42) -- the same working set as repeating.lua
  for i = 1, 300 do reqs[i] = c.forward_request() end
  c.setup(args)
end
function request() return reqs[math.random(#reqs)] end
