-- Gives every request its own PoP token (X-Authorization), read from the
-- file args[1]; thread k of args[2] threads takes every args[2]-th line
-- from line k, so no token is sent twice. A thread out of tokens sends
-- "exhausted", which authgate refuses (counted as non-2xx).
local counter = 0
function setup(thread)
	thread:set("id", counter)
	counter = counter + 1
end

local tokens, i = {}, 0
function init(args)
	local n, k = tonumber(args[2]), 0
	for line in io.lines(args[1]) do
		if k % n == id then
			tokens[#tokens + 1] = line
		end
		k = k + 1
	end
end

function request()
	i = i + 1
	local h = {}
	for name, v in pairs(wrk.headers) do
		h[name] = v
	end
	h["X-Authorization"] = tokens[i] or "exhausted"
	return wrk.format(nil, nil, h)
end
