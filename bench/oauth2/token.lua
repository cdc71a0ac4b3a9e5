-- wrk script: POST the password grant with the key and secret from the
-- environment (AG_KEY, AG_SECRET); counts non-200 answers as errors.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local function enc(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end
wrk.body = "grant_type=password&username=" .. enc(os.getenv("AG_KEY")) .. "&password=" .. enc(os.getenv("AG_SECRET"))
local bad = 0
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end
function done(summary, latency, requests)
  io.write(string.format("non-200: %d\n", bad))
end
