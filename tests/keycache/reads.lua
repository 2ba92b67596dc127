-- reads.lua - wrk script for run_reads.sh: every wrk thread GETs /ns/<key> rotating over the keys
-- listed (one per line) in the file given after `--`, from its own random offset, checks each
-- answer (status 200 and the body given as second argument) and stops after one full rotation
-- plus 32 (so every thread read every key at least once, however slow the machine), and then
-- creates the file <third argument>.<n> so that the caller can stop wrk (SIGINT: wrk then
-- prints its results; its -d duration is only a bound). done() prints "reads N bad B unfinished U" summed over the threads and wrk's socket error counts.
-- What it does not do: no timing; throughput is measured by bench/bench_keycache*.sh.
local keys = {}
local i = 0
local want = nil
local flag = nil
local sent = 0
local answered = 0
bad = 0
finished = 0
id = 0
local threads = {}

function setup(thread)
    threads[#threads + 1] = thread
    thread:set("id", #threads)
end

function init(args)
    for line in io.lines(args[1]) do
        keys[#keys + 1] = line
    end
    want = args[2]
    flag = args[3]
    i = math.random(#keys)
end

function request()
    i = i % #keys + 1
    sent = sent + 1
    return wrk.format("GET", "/ns/" .. keys[i])
end

function response(status, headers, body)
    answered = answered + 1
    if status ~= 200 or body ~= want then
        bad = bad + 1
    end
    if answered >= #keys + 32 and finished == 0 then
        finished = 1
        local f = io.open(flag .. "." .. tostring(id), "w")
        if f then
            f:close()
        end
        wrk.thread:stop()
    end
end

function done(summary, latency, requests)
    local b, f = 0, 0
    for _, t in ipairs(threads) do
        b = b + t:get("bad")
        f = f + t:get("finished")
    end
    local e = summary.errors
    io.write(string.format("reads %d bad %d unfinished %d errors %d\n", summary.requests, b,
                           #threads - f, e.connect + e.read + e.write + e.status + e.timeout))
end
