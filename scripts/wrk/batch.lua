-- Batches of 50 distinct requests per call.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
local c = require("common")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
function init(args) c.setup(args) end
function request()
  local items = {}
  for i = 1, 50 do items[i] = c.request_body() end
  return wrk.format(nil, "/v1/authorize/batch", nil, '{"requests":[' .. table.concat(items, ",") .. ']}')
end
