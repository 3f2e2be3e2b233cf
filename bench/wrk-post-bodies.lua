-- POSTs the JSON lines of the file $BODIES in turn (from bench/case-bodies.py), with the bearer
-- token in $TOKEN, to the URL wrk is given; each thread starts at its own place in the file.
local bodies = {}
for line in io.lines(os.getenv("BODIES")) do
  bodies[#bodies + 1] = line
end
next_body = 1
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("TOKEN")}
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("next_body", 1 + (threads - 1) * 7919 % #bodies)
end
request = function()
  local body = bodies[next_body]
  next_body = next_body % #bodies + 1
  return wrk.format("POST", nil, headers, body)
end
done = function(summary, latency, requests)
  io.write(string.format("non-2xx or errors: %d status, %d other\n", summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
