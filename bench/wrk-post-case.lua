-- Reports at varied points around 萍乡's centre, in varied categories, as a hotline system files them.
local categories = {"livelihood.road_repair", "livelihood.sanitation", "hazard.fire", "dispute.neighbour", "livelihood.water_supply", "hazard.road"}
math.randomseed(os.time())
request = function()
  local lon = 113.80 + math.random() * 0.10
  local lat = 27.58 + math.random() * 0.08
  local body = string.format('{"channel":"hotline","category":"%s","lon":%.5f,"lat":%.5f,"description":"热线来电反映情况"}',
    categories[math.random(#categories)], lon, lat)
  return wrk.format("POST", "/api/v1/cases", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("TOKEN")}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("non-2xx or errors: %d status, %d other\n", summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
