-- The gateway's Lua entry points, called from the rendered nginx.conf:
--   init(options)  in init_by_lua: loads limits, public routes and WAF rules (bad files fail `nginx -t`)
--   access()       in access_by_lua: rate limit, then the public-route allow-list, then WAF
--   problem()      in the error_page location: problem+json for errors nginx makes
--   public_openapi()  content of /api/openapi.json: the document read at start-up
local json = require("hotelbook.json")
local ratelimit = require("hotelbook.ratelimit")
local routes = require("hotelbook.routes")
local waf = require("hotelbook.waf")

local ngx = ngx
local sub, concat = string.sub, table.concat
local parse_query = require("hotelbook.crs").parse_query
-- the arguments the WAF reads (as nginx's own parser caps them)
local MAX_ARGS = 200

local _M = {}

local PROBLEM_TYPE = "urn:problem:hotelbook:"

local STATUS = {
    [400] = { "bad-request", "Bad Request", "The request could not be understood." },
    [403] = { "forbidden", "Forbidden", "The request was refused." },
    [404] = { "not-found", "Not Found", "No service answers at this path." },
    [405] = { "method-not-allowed", "Method Not Allowed", "This method is not allowed." },
    [408] = { "request-timeout", "Request Timeout", "The request took too long to arrive." },
    [413] = { "payload-too-large", "Content Too Large", "The request body is larger than the gateway accepts." },
    [415] = { "unsupported-media-type", "Unsupported Media Type", "This kind of body is not accepted here." },
    [414] = { "uri-too-long", "URI Too Long", "The request URI is longer than the gateway accepts." },
    [429] = { "rate-limited", "Too Many Requests", "Too many requests from this address; retry later." },
    [431] = { "headers-too-large", "Request Header Fields Too Large", "The request headers are too large." },
    [494] = { "headers-too-large", "Request Header Fields Too Large", "The request headers are too large." },
    [500] = { "gateway-error", "Internal Server Error", "The gateway failed to handle the request." },
    [502] = { "upstream-unavailable", "Bad Gateway", "The service behind this path is not answering." },
    [503] = { "unavailable", "Service Unavailable", "The service is unavailable; retry later." },
    [504] = { "upstream-timeout", "Gateway Timeout", "The service behind this path did not answer in time." },
}

function _M.init(options)
    ratelimit.init(options.limits, options.dict or "hb_ratelimit", options.limits_redis)
    routes.init(options.routes, options.own_paths)
    -- Read here, by the master: workers (not root) may not reach the file. Written
    -- once the services are up; a reload (HUP) picks a new one up.
    _M.public_doc = nil
    if options.public_openapi then
        local f = io.open(options.public_openapi, "rb")
        if f then
            local text = f:read("*a")
            f:close()
            if not json.decode(text) then error(options.public_openapi .. ": not valid JSON") end
            _M.public_doc = text
        end
    end
    waf.init(options.rules, options.waf_mode, options.crs)
end

-- Writes a problem document and ends the request.
local function send_problem(status, extra, headers)
    local info = STATUS[status] or { "error", "Error", nil }
    local body = {
        type = PROBLEM_TYPE .. info[1],
        title = info[2],
        status = status,
        detail = info[3],
        request_id = ngx.var.hb_request_id,
    }
    for k, v in pairs(extra or {}) do body[k] = v end
    local text = json.encode(body)
    -- 494 is nginx's private code; clients get the standard 431.
    ngx.status = status == 494 and 431 or status
    local h = ngx.header
    h["Content-Type"] = "application/problem+json"
    h["Content-Length"] = #text
    h["Cache-Control"] = "no-store"
    for k, v in pairs(headers or {}) do h[k] = v end
    ngx.print(text)
    return ngx.exit(ngx.status)
end
_M.send_problem = send_problem

-- The decimal text of small whole numbers, per worker: a number written to an
-- nginx variable is converted on every write, and the limit headers repeat.
local NUMBER_TEXT = setmetatable({}, { __index = function(t, n)
    local text = tostring(n)
    if n >= 0 and n < 100000 and n % 1 == 0 then t[n] = text end
    return text
end })

-- Applies the rate limit policy of this request; false when refused (already answered).
local function limit(var, uri, method)
    local policy = ratelimit.policy_for(uri, method)
    if not policy then return true end
    local allowed, lim, remaining, reset, retry = ratelimit.take(policy, var.remote_addr)
    var.hb_rl_limit = NUMBER_TEXT[lim]
    var.hb_rl_remaining = NUMBER_TEXT[remaining]
    var.hb_rl_reset = NUMBER_TEXT[reset]
    var.hb_rl_policy = policy.name
    if allowed then
        var.hb_rl = "allowed"
        return true
    end
    var.hb_rl = "limited"
    send_problem(429, { detail = "Too many requests from this address for the '" .. policy.name
                        .. "' limit; retry in " .. retry .. " s." }, { ["Retry-After"] = retry })
    return false
end

-- The names of the query parameters, for the access log (never their values):
-- the first 20 distinct ones, at most 64 characters each. From the arguments the
-- WAF reads too (crs.parse_query), so the query is split once per request.
local log_names = {}
local function query_names(names, n)
    local count = 0
    for i = 1, n do
        local name = names[i]
        if #name > 64 then name = sub(name, 1, 64) end
        local seen = false
        for j = 1, count do
            if log_names[j] == name then
                seen = true
                break
            end
        end
        if not seen then
            count = count + 1
            log_names[count] = name
            if count == 20 then break end
        end
    end
    local text = concat(log_names, ",", 1, count)
    for i = 1, count do log_names[i] = nil end
    return text
end

-- A body the services could not read the way the WAF did: refused in every mode.
local function send_refusal(refusal)
    return send_problem(refusal.status, { type = PROBLEM_TYPE .. refusal.slug, title = refusal.title,
                                          detail = refusal.detail })
end

local function send_blocked(blocked)
    return send_problem(403, {
        type = PROBLEM_TYPE .. "request-blocked",
        title = "Request blocked",
        detail = blocked.description or ("The request matched the gateway rule " .. blocked.id .. "."),
        rule_id = blocked.id,
    })
end

function _M.access()
    local var = ngx.var
    local method = ngx.req.get_method()
    local uri = var.uri
    -- $args is the request line's query: taken from $request_uri, read once for the WAF too
    local request_uri = var.request_uri
    local q = string.find(request_uri, "?", 1, true)
    local args = q and sub(request_uri, q + 1)
    local names, values, n
    if args and args ~= "" then
        names, values, n = parse_query(args, MAX_ARGS)
        var.hb_query_names = query_names(names, n)
    end
    if not limit(var, uri, method) then return end
    -- Only public operations go on; internals look like nothing is there.
    if not routes.allowed(method, uri) then
        if not routes.browser_page(method, uri, var.http_accept) then
            -- The WAF judges it first: an attack is refused as one (403, logged with its
            -- rules) wherever it is sent, and anything else finds nothing here.
            local blocked, hits, refusal, score = waf.inspect(method, uri, request_uri)
            if score and score > 0 then var.hb_waf_score = score end
            if hits then
                var.hb_waf_rule = table.concat(hits, ",")
                var.hb_waf_action = blocked and "blocked" or "logged"
            end
            if blocked then return send_blocked(blocked) end
            if refusal then return send_refusal(refusal) end
            return send_problem(404, { detail = "There is no public operation " .. method .. " at this path." })
        end
        -- A browser gets the booking UI's own "Page not found" page, asked for under a
        -- path no service has: the UI never sees the hidden one.
        ngx.req.set_uri(routes.NOT_FOUND_PAGE)
        ngx.req.set_uri_args("")
        uri = routes.NOT_FOUND_PAGE
    end
    local blocked, hits, refusal, score = waf.inspect(method, uri, request_uri, false, names, values, n)
    if score and score > 0 then var.hb_waf_score = score end
    if hits then
        var.hb_waf_rule = table.concat(hits, ",")
        var.hb_waf_action = blocked and "blocked" or "logged"
    end
    if refusal then return send_refusal(refusal) end
    if blocked then return send_blocked(blocked) end
end

function _M.public_openapi()
    local text = _M.public_doc
    if not text then
        return send_problem(404, { detail = "The public OpenAPI document is not published yet." })
    end
    ngx.header["Content-Type"] = "application/json"
    ngx.header["Cache-Control"] = "no-cache"
    ngx.print(text)
end

-- The WAF's verdict on a request line nginx refused before any handler ran: the
-- request target of $request (nginx has no $request_uri for it), without a body.
function _M.judge_refused_line(var)
    local line = var.request
    if not line or line == "" then return nil end
    local method, target = string.match(line, "^(%S+)%s+(%S+)")
    if not target or string.byte(target) ~= 47 then return nil end  -- origin form only
    local blocked, hits, _, score = waf.inspect(method, "/", target, true)
    return blocked, hits, score
end

-- Content of the error_page location: the status nginx was about to answer with.
function _M.problem()
    local var = ngx.var
    local status = ngx.status
    if not status or status < 400 then status = 500 end
    if var.hb_rl == "" then
        -- nginx refused the request before the access phase (413, 405, 414...):
        -- it still counts and still gets the RateLimit headers.
        local method = ngx.req.get_method()
        if not limit(var, var.uri or "/", method) then return end
    end
    if status == 400 or status == 405 then
        -- A request line nginx refused itself (a path above the root, /static/../../x;
        -- the TRACE method): judged by the WAF on the line as sent, so an attack spelt
        -- that way is refused as one (403, logged with its rules) like every other attack.
        local ok, blocked, hits, score = pcall(_M.judge_refused_line, var)
        if ok and (hits or (score and score > 0)) then
            if score and score > 0 then var.hb_waf_score = score end
            if hits then
                var.hb_waf_rule = table.concat(hits, ",")
                var.hb_waf_action = blocked and "blocked" or "logged"
            end
            if blocked then return send_blocked(blocked) end
        end
    end
    if status == 502 then
        -- nginx's own 502: no instance answered. Either every one refused (a request nginx
        -- tried on each), or the one holding the request died after it was sent: a POST or
        -- PATCH then is not sent again (it may have taken effect). Both pass: a clear 503
        -- with Retry-After, which a client may repeat (with the same Idempotency-Key).
        local method = ngx.req.get_method()
        local detail = "No instance of the service behind this path is answering; retry shortly."
        if method == "POST" or method == "PATCH" then
            detail = "The service stopped before answering. The request was not repeated, since it may "
                .. "have taken effect: retry it (a payment with the same Idempotency-Key is never charged twice)."
        end
        return send_problem(503, { type = PROBLEM_TYPE .. "upstream-unavailable", detail = detail },
                            { ["Retry-After"] = "1" })
    end
    return send_problem(status)
end

return _M
