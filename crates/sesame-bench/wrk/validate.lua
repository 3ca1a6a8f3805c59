-- wrk script: POST /v1/session/validate with the token and API key from the
-- environment (BENCH_KEY, BENCH_TOKEN).
wrk.method = "POST"
wrk.body = '{"device":{"user_agent":"bench"}}'
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer " .. os.getenv("BENCH_KEY")
wrk.headers["sesame-token"] = os.getenv("BENCH_TOKEN")
