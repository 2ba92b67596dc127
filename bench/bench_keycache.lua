-- bench_keycache.lua - wrk script for bench_keycache.sh: GET /ns/<key> rotating over the keys
-- listed (one per line) in the file given after `--`. Each wrk thread starts at a different
-- offset. Optional second argument: an Authorization header value.
local keys = {}
local i = 0
local auth = nil

function init(args)
    for line in io.lines(args[1]) do
        keys[#keys + 1] = line
    end
    auth = args[2]
    i = math.random(#keys)
end

function request()
    i = i % #keys + 1
    local headers = nil
    if auth then
        headers = { Authorization = auth }
    end
    return wrk.format("GET", "/ns/" .. keys[i], headers)
end
