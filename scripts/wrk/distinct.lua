-- Mix "distinct": tens of thousands of different principals, orgs and actions.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
local c = require("common")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
function init(args) c.setup(args) end
function request() return wrk.format(nil, "/v1/authorize", nil, c.request_body()) end
