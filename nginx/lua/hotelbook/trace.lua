-- W3C trace context at the edge, and the gateway's own span.
--
--   init(options)   init_by_lua: { endpoint = "http://host:port" | nil, ratio = 0..1 }
--   init_worker()   init_worker_by_lua: seeds span ids, starts the exporter timer
--   start()         access phase: keeps a valid incoming traceparent (same trace,
--                   same sampling flag) or starts a trace, sampled with `ratio`;
--                   the upstream gets traceparent 00-<trace>-<gateway span>-<flags>
--   finish()        log phase: the gateway span, queued when sampled and exported
--                   as OTLP/JSON to <endpoint>/v1/traces every second
-- Without an endpoint no span is kept; the traceparent still goes upstream.
local json = require("hotelbook.json")

local ngx = ngx
local var = ngx.var
local sub, find, format, random = string.sub, string.find, string.format, math.random

local _M = {}

local ratio = 1
local host, port, path
local queue, queued = {}, 0
local MAX_QUEUE = 2048

function _M.init(options)
    ratio = tonumber(options.ratio) or 1
    if ratio < 0 or ratio > 1 then error("trace ratio must be between 0 and 1") end
    local endpoint = options.endpoint
    if endpoint and endpoint ~= "" then
        local h, p, rest = endpoint:match("^http://([%w%.%-]+):(%d+)(.*)$")
        if not h then error("OTLP endpoint must look like http://host:port, got " .. endpoint) end
        host, port = h, tonumber(p)
        path = (rest:gsub("/+$", "")) .. "/v1/traces"
    end
end

-- bit.tohex, not string.format: LuaJIT compiles it (format would leave the trace
-- on every request).
local tohex = bit.tohex
local function hex16()
    return tohex(random(0, 0x7fffffff) * 2 + random(0, 1), 8) .. tohex(random(0, 0x7fffffff) * 2 + random(0, 1), 8)
end

local ZERO_TRACE, ZERO_SPAN = string.rep("0", 32), string.rep("0", 16)

-- The (trace id, parent span id, flags) of a valid version-00 traceparent, else nil.
local function parse(value)
    if not value or #value ~= 55 or sub(value, 1, 3) ~= "00-" or sub(value, 36, 36) ~= "-"
            or sub(value, 53, 53) ~= "-" then
        return nil
    end
    local trace_id, parent, flags = sub(value, 4, 35), sub(value, 37, 52), sub(value, 54, 55)
    if find(trace_id, "[^0-9a-f]") or find(parent, "[^0-9a-f]") or find(flags, "[^0-9a-f]")
            or trace_id == ZERO_TRACE or parent == ZERO_SPAN then
        return nil
    end
    return trace_id, parent, flags
end
_M.parse = parse

function _M.start()
    local trace_id, parent, flags = parse(var.http_traceparent)
    if not trace_id then
        -- nginx's $request_id: 16 random bytes in hex, just what a trace id is.
        trace_id, parent = var.request_id, nil
        flags = (ratio >= 1 or random() < ratio) and "01" or "00"
    end
    local span_id = hex16()
    ngx.req.set_header("traceparent", "00-" .. trace_id .. "-" .. span_id .. "-" .. flags)
    var.hb_trace_id = trace_id
    -- The span is only kept for an exporter (finish() reads it); ngx.ctx costs a
    -- table per request.
    if not host then return end
    local ctx = ngx.ctx
    ctx.trace_span, ctx.trace_parent = span_id, parent
    -- Bit 0 of the flags is "sampled".
    ctx.trace_sampled = tonumber(flags, 16) % 2 == 1
end

local function attr(key, value)
    if type(value) == "number" then return { key = key, value = { intValue = value } } end
    return { key = key, value = { stringValue = tostring(value) } }
end

function _M.finish()
    local ctx = ngx.ctx
    if not host or not ctx.trace_sampled or queued >= MAX_QUEUE then return end
    local started = ngx.req.start_time()
    local status = ngx.status
    local attributes = {
        attr("http.request.method", ngx.req.get_method()),
        attr("url.path", var.uri),
        attr("http.response.status_code", status),
        attr("hotelbook.request_id", var.hb_request_id),
    }
    if var.hb_waf_rule ~= "" then attributes[#attributes + 1] = attr("hotelbook.waf_rule", var.hb_waf_rule) end
    if var.hb_rl_policy ~= "" then attributes[#attributes + 1] = attr("hotelbook.ratelimit_policy", var.hb_rl_policy) end
    queued = queued + 1
    queue[queued] = {
        traceId = var.hb_trace_id,
        spanId = ctx.trace_span,
        parentSpanId = ctx.trace_parent,
        name = ngx.req.get_method() .. " " .. var.uri,
        kind = 2, -- SERVER
        startTimeUnixNano = format("%.0f", started * 1e9),
        endTimeUnixNano = format("%.0f", ngx.now() * 1e9),
        attributes = attributes,
        status = { code = status >= 500 and 2 or 0 },
    }
end

local function flush(premature)
    if queued == 0 then return end
    local spans = queue
    queue, queued = {}, 0
    local body = json.encode({ resourceSpans = { {
        resource = { attributes = { attr("service.name", "gateway") } },
        scopeSpans = { { scope = { name = "hotelbook.gateway" }, spans = spans } },
    } } })
    local sock = ngx.socket.tcp()
    sock:settimeout(2000)
    local ok, err = sock:connect(host, port)
    if not ok then
        if not premature then ngx.log(ngx.WARN, "trace export to ", host, ":", port, " failed: ", err) end
        return
    end
    sock:send("POST " .. path .. " HTTP/1.1\r\nHost: " .. host .. "\r\nContent-Type: application/json\r\n"
        .. "Content-Length: " .. #body .. "\r\nConnection: close\r\n\r\n" .. body)
    local line = sock:receive("*l")
    if not line or not find(line, "^HTTP/1%.[01] 2") then
        ngx.log(ngx.WARN, "trace export refused: ", line or "no answer")
    end
    sock:close()
end

function _M.init_worker()
    -- Workers fork from one master: each seeds its own span ids.
    local seed = ngx.now() * 1000 + ngx.worker.pid()
    local urandom = io.open("/dev/urandom", "rb")
    if urandom then
        local bytes = urandom:read(4)
        urandom:close()
        seed = bytes:byte(1) * 16777216 + bytes:byte(2) * 65536 + bytes:byte(3) * 256 + bytes:byte(4)
    end
    math.randomseed(seed)
    if host then ngx.timer.every(1, flush) end
end

return _M
