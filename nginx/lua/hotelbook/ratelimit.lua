-- Per-client rate limiting with a sliding-window counter over lua_shared_dict.
--
-- Each (policy, client IP) has one counter per fixed window of `window` seconds,
-- created atomically by dict:incr(key, 1, 0, ttl) so every nginx worker counts in
-- the same place. A request is accepted while
--     previous_window_count * (1 - elapsed_fraction) + current_window_count <= limit
-- i.e. the previous window's requests fade out linearly as the current window
-- fills. A refused request takes its increment back, so a flood never pushes
-- the accepted rate below the limit: accepted rate == limit / window.
--
-- Where the counters live decides what a limit means. The shared dict is one per nginx:
-- all its workers count together, but two gateway instances would each let a client have
-- the whole limit. With `limits_redis` (render.py --limits-redis HOST:PORT) the counters
-- are in Redis, one per (policy, client) for every gateway naming that server, and a
-- limit holds for a client across them; when Redis does not answer (50 ms), the request
-- is counted in the local dict instead: per instance, never unlimited, never refused.
local json = require("hotelbook.json")
local shared = require("hotelbook.shared_counter")

local ngx = ngx
local now, floor, ceil = ngx.now, math.floor, math.ceil
local find, tostring = string.find, tostring

local _M = {}

local dict
local routes = {}

-- Reads and checks the limits file; errors here make `nginx -t` fail.
function _M.init(path, dict_name, redis_address)
    shared.configure(redis_address)
    local f, err = io.open(path, "rb")
    if not f then error("cannot read " .. path .. ": " .. tostring(err)) end
    local data, derr = json.decode(f:read("*a"))
    f:close()
    if not data then error(path .. ": " .. derr) end
    local policies = data.policies or {}
    for name, p in pairs(policies) do
        if type(p.limit) ~= "number" or p.limit < 1 or type(p.window) ~= "number" or p.window <= 0 then
            error(path .. ": policy " .. name .. " needs a positive limit and window")
        end
        p.name = name
    end
    routes = {}
    for i, r in ipairs(data.routes or {}) do
        local policy = policies[r.policy]
        if not policy then error(path .. ": route " .. i .. " names unknown policy " .. tostring(r.policy)) end
        if not r.path and not r.prefix then error(path .. ": route " .. i .. " needs path or prefix") end
        local methods
        if r.methods then
            methods = {}
            for _, m in ipairs(r.methods) do methods[m] = true end
        end
        routes[#routes + 1] = { path = r.path, prefix = r.prefix, methods = methods, policy = policy }
    end
    dict = ngx.shared[dict_name]
    if not dict then error("lua_shared_dict " .. dict_name .. " is missing") end
end

-- The policy of a request: the first route matching path (exact) or prefix, and method.
function _M.policy_for(uri, method)
    for i = 1, #routes do
        local r = routes[i]
        if (r.path == uri or (r.prefix and find(uri, r.prefix, 1, true) == 1))
                and (not r.methods or r.methods[method]) then
            return r.policy
        end
    end
    return nil
end

-- Seconds until one more request fits, given the counts after this request.
local function wait_for_next(previous, current, limit, window, elapsed)
    local wait
    if current <= limit - 1 and previous > 0 then
        -- Within this window, once enough of the previous one has faded.
        wait = (1 - (limit - 1 - current) / previous) * window - elapsed
    else
        -- This window is full: in the next one, once this one has faded enough.
        wait = window - elapsed + (1 - (limit - 1) / current) * window
    end
    wait = ceil(wait)
    return wait >= 1 and wait or 1
end

-- Counts one request. Returns allowed, limit, remaining, reset_seconds,
-- retry_after_seconds (only when refused). Reset is when the current window
-- ends, or, when nothing is left, when the next request fits.
-- The counter keys of a client's current and previous window, per worker: a client
-- sends many requests per window, and the keys would otherwise be built each time.
local key_cache, key_cache_size = {}, 0
local function keys(policy, client, index)
    local by_policy = key_cache[policy]
    local entry = by_policy and by_policy[client]
    if entry and entry[1] == index then return entry[2], entry[3] end
    local prefix = policy.name .. "|" .. client .. "|"
    if not entry then
        key_cache_size = key_cache_size + 1
        if key_cache_size > 10000 then key_cache, key_cache_size, by_policy = {}, 1, nil end
        if not by_policy then
            by_policy = {}
            key_cache[policy] = by_policy
        end
        entry = {}
        by_policy[client] = entry
    end
    entry[1], entry[2], entry[3] = index, prefix .. index, prefix .. (index - 1)
    return entry[2], entry[3]
end

function _M.take(policy, client)
    local limit, window = policy.limit, policy.window
    local t = now()
    local index = floor(t / window)
    local elapsed = t - index * window
    local key, previous_key = keys(policy, client, index)
    if shared.enabled() then
        local accepted, current, previous = shared.take("hb:rl:" .. key, "hb:rl:" .. previous_key, limit,
                                                        elapsed / window, floor((window * 2 + 1) * 1000))
        if accepted ~= nil then
            return _M.answer(accepted, limit, window, elapsed, previous, current)
        end
        ngx.log(ngx.WARN, "rate limiter: shared counters unreachable (", current, "), counting locally")
    end
    local current, err = dict:incr(key, 1, 0, window * 2 + 1)
    if not current then
        -- A full or broken dict must not take the site down: fail open, loudly.
        ngx.log(ngx.ERR, "rate limiter: ", err)
        return true, limit, limit, ceil(window - elapsed)
    end
    local previous = dict:get(previous_key) or 0
    local estimate = previous * (1 - elapsed / window) + current
    if estimate > limit then
        dict:incr(key, -1)
        current = current - 1
    end
    return _M.answer(estimate <= limit, limit, window, elapsed, previous, current)
end

-- The answer for counts after this request (a refused one already taken back).
function _M.answer(accepted, limit, window, elapsed, previous, current)
    if accepted then
        local estimate = previous * (1 - elapsed / window) + current
        local remaining = floor(limit - estimate)
        local reset
        if remaining >= 1 then
            reset = ceil(window - elapsed)
            if reset < 1 then reset = 1 end
        else
            reset = wait_for_next(previous, current, limit, window, elapsed)
        end
        return true, limit, remaining, reset
    end
    local wait = wait_for_next(previous, current, limit, window, elapsed)
    return false, limit, 0, wait, wait
end

return _M
