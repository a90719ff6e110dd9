-- Mix "repeating": a few hundred users hitting the same routes again and again, as behind a
-- proxy.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
local c = require("common")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {}
function init(args)
  c.setup(args)
  math.randomseed(42) -- the same working set on every thread
  for i = 1, 300 do bodies[i] = c.request_body() end
  c.setup(args)
end
function request() return wrk.format(nil, "/v1/authorize", nil, bodies[math.random(#bodies)]) end
