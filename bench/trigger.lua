-- wrk script: POST /v1/notifications, rotating over 1,000 clients.
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("HERALD_API_KEY")
request = function()
  n = n + 1
  local body = string.format(
    '{"type":"reminder","client":"c%d","data":{"time":"10:00","name":"Ana"}}', n % 1000)
  return wrk.format(nil, os.getenv("HERALD_PATH") or "/v1/notifications", nil, body)
end
