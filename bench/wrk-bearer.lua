-- Adds the bearer token in $TOKEN to every request of a wrk run.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
