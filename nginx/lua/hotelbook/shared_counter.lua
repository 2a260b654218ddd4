-- The rate limiter's counters in Redis, shared by every gateway instance that names the same
-- server (render.py --limits-redis HOST:PORT). One round trip per limited request: a server-side
-- script counts the request in the current window, reads the previous one, and takes the
-- increment back when the sliding-window estimate is over the limit, all atomically, so two
-- gateways never both accept the request that goes over.
--
-- The client is the smallest part of the Redis protocol (RESP) this needs: one command out,
-- one reply (integer, error or array of integers) in, over a kept-alive cosocket.
local ngx = ngx
local tcp = ngx.socket.tcp
local concat, tostring, tonumber = table.concat, tostring, tonumber
local byte, sub, format = string.byte, string.sub, string.format

local _M = {}

-- KEYS[1] current window, KEYS[2] previous window; ARGV limit, elapsed fraction, ttl (ms).
-- Returns {accepted 0|1, current count (after taking back a refused one), previous count}.
local SCRIPT = [[
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if previous * (1 - tonumber(ARGV[2])) + current > tonumber(ARGV[1]) then
    redis.call('DECR', KEYS[1])
    return {0, current - 1, previous}
end
return {1, current, previous}
]]

local function hex(bin)
    local out = {}
    for i = 1, #bin do out[i] = format("%02x", byte(bin, i)) end
    return concat(out)
end

local SHA = hex(ngx.sha1_bin(SCRIPT))
local host, port, timeout_ms = nil, nil, 50

function _M.configure(address, timeout)
    if not address or address == "" then
        host = nil
        return
    end
    local h, p = address:match("^([%w%.%-]+):(%d+)$")
    if not h then error("limits redis: expected HOST:PORT, got " .. tostring(address)) end
    host, port = h, tonumber(p)
    timeout_ms = timeout or timeout_ms
end

function _M.enabled()
    return host ~= nil
end

local function command(args)
    local out = { "*", #args, "\r\n" }
    for _, arg in ipairs(args) do
        arg = tostring(arg)
        out[#out + 1] = "$" .. #arg .. "\r\n" .. arg .. "\r\n"
    end
    return concat(out)
end

-- One reply: integer, error, bulk string or an array of integers.
local function read_reply(sock)
    local line, err = sock:receive("*l")
    if not line then return nil, err end
    local kind, rest = sub(line, 1, 1), sub(line, 2)
    if kind == ":" then return tonumber(rest) end
    if kind == "-" then return nil, rest end
    if kind == "$" then
        local size = tonumber(rest)
        if size < 0 then return ngx.null end
        local data, rerr = sock:receive(size + 2)
        if not data then return nil, rerr end
        return sub(data, 1, size)
    end
    if kind == "*" then
        local items = {}
        for i = 1, tonumber(rest) do
            local item, ierr = read_reply(sock)
            if item == nil then return nil, ierr end
            items[i] = item
        end
        return items
    end
    return nil, "unexpected reply " .. line
end

-- Counts one request; returns accepted, current, previous (or nil, error: the caller falls back).
function _M.take(current_key, previous_key, limit, elapsed_fraction, ttl_ms)
    local sock = tcp()
    sock:settimeout(timeout_ms)
    local ok, err = sock:connect(host, port)
    if not ok then return nil, "connect: " .. tostring(err) end
    local fraction = format("%.6f", elapsed_fraction)
    local reply
    reply, err = sock:send(command({ "EVALSHA", SHA, 2, current_key, previous_key, limit, fraction, ttl_ms }))
    if reply then reply, err = read_reply(sock) end
    if reply == nil and err and err:find("NOSCRIPT", 1, true) then
        -- First use on this server (or after a restart): send the script itself.
        reply, err = sock:send(command({ "EVAL", SCRIPT, 2, current_key, previous_key, limit, fraction, ttl_ms }))
        if reply then reply, err = read_reply(sock) end
    end
    if type(reply) ~= "table" then
        sock:close()
        return nil, err or "unexpected reply"
    end
    sock:setkeepalive(30000, 64)
    return reply[1] == 1, reply[2], reply[3]
end

return _M
