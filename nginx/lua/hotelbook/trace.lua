-- The gateway's own span, exported as OTLP/JSON.
--
-- The trace context itself is worked out by nginx (render.py, trace_maps): a valid
-- incoming traceparent is continued, anything else starts a trace; the upstream
-- gets traceparent 00-$hb_trace_id-$hb_span_id-$hb_trace_flags. This module only
-- exports the gateway's span:
--   init(options)   init_by_lua: { endpoint = "http://host:port" | nil, ratio = 0..1 }
--   init_worker()   init_worker_by_lua: starts the exporter timer
--   finish()        log phase: the gateway span, queued when sampled and exported
--                   to <endpoint>/v1/traces every second
-- Without an endpoint no span is kept and no Lua runs for tracing.
local json = require("hotelbook.json")

local ngx = ngx
local var = ngx.var
local find, format = string.find, string.format

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

local function attr(key, value)
    if type(value) == "number" then return { key = key, value = { intValue = value } } end
    return { key = key, value = { stringValue = tostring(value) } }
end

function _M.finish()
    if not host or queued >= MAX_QUEUE then return end
    -- bit 0 of the flags is "sampled"
    local flags = tonumber(var.hb_trace_flags, 16)
    if not flags or flags % 2 == 0 then return end
    local parent = var.hb_trace_parent
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
        spanId = var.hb_span_id,
        parentSpanId = parent ~= "" and parent or nil,
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
    if host then ngx.timer.every(1, flush) end
end

return _M
