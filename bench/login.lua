-- POST /auth/login for bench users u0…u(N-1), each connection its own user in turn.
local users = tonumber(os.getenv("BENCH_USERS") or "32")
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"email":"u%d@bench.example","password":"correct horse battery staple"}', counter % users)
  return wrk.format("POST", "/auth/login", { ["content-type"] = "application/json" }, body)
end
