-- Applies the OWASP Core Rule Set as compiled by nginx/crs.py (see README.md).
--
-- Per request: the collections (ARGS, REQUEST_HEADERS, ...) are built once, each
-- value is transformed once per transformation chain (cached), and a regex rule
-- runs only when the transformed value holds one of the characters every match
-- needs (computed by the compiler). Regexes are ngx.re with PCRE JIT, compiled
-- once per worker ("jo"); @detectSQLi/@detectXSS call libinjection in Debian's
-- libmodsecurity3 through the FFI. Anomaly scoring as CRS defines it: each
-- matching rule adds its severity's score (critical 5, error 4, warning 3, notice
-- 2), once per matched value; the request is blocked when the total reaches the
-- inbound threshold.
local cjson = require("cjson.safe")
local ffi = require("ffi")
local transforms = require("hotelbook.transforms")

local ngx = ngx
local re_find, re_match = ngx.re.find, ngx.re.match
local find, sub, lower, byte, gsub = string.find, string.sub, string.lower, string.byte, string.gsub
local concat, tostring, tonumber, type, pairs, ipairs = table.concat, tostring, tonumber, type, pairs, ipairs

local _M = {}

local state = { rules = {}, threshold = 5, loaded = false, ids = {} }

-- libinjection --------------------------------------------------------------------

local libinjection
local fingerprint
local function load_libinjection()
    ffi.cdef [[
        int libinjection_sqli(const char *s, size_t slen, char fingerprint[]);
        int libinjection_xss(const char *s, size_t slen);
    ]]
    for _, name in ipairs({ "modsecurity.so.3", "modsecurity" }) do
        local ok, lib = pcall(ffi.load, name)
        if ok then
            libinjection = lib
            fingerprint = ffi.new("char[8]")
            return
        end
    end
    error("libinjection not found: install libmodsecurity3 (it exports libinjection_sqli/_xss)")
end

-- operators -----------------------------------------------------------------------

local OPS = {}

function OPS.rx(rule, v, ctx)
    if rule.capture then
        local m = re_match(v, rule.arg, "jos")
        if not m then return false end
        for i = 0, 9 do ctx.tx[tostring(i)] = m[i] or nil end
        return true
    end
    return re_find(v, rule.arg, "jos") ~= nil
end
function OPS.pm(rule, v) return re_find(v, rule.pm_re, "joi") ~= nil end
function OPS.streq(rule, v) return v == rule.arg end
function OPS.contains(rule, v) return find(v, rule.arg, 1, true) ~= nil end
function OPS.containsWord(rule, v)
    return re_find(v, [[(?<![A-Za-z0-9_])]] .. rule.arg_re .. [[(?![A-Za-z0-9_])]], "jo") ~= nil
end
function OPS.beginsWith(rule, v) return sub(v, 1, #rule.arg) == rule.arg end
function OPS.endsWith(rule, v) return #rule.arg == 0 or sub(v, -#rule.arg) == rule.arg end
function OPS.within(rule, v) return find(rule.arg, v, 1, true) ~= nil end
function OPS.eq(rule, v) return (tonumber(v) or 0) == rule.num end
function OPS.ge(rule, v) return (tonumber(v) or 0) >= rule.num end
function OPS.gt(rule, v) return (tonumber(v) or 0) > rule.num end
function OPS.lt(rule, v) return (tonumber(v) or 0) < rule.num end
function OPS.le(rule, v) return (tonumber(v) or 0) <= rule.num end
function OPS.validateByteRange(rule, v) return re_find(v, rule.outside_re, "jo") ~= nil end
function OPS.validateUrlEncoding(_, v) return find(v, "%", 1, true) and re_find(v, [[%(?![0-9a-fA-F]{2})]], "jo") ~= nil end
function OPS.validateUtf8Encoding(_, v)
    if not find(v, "[\128-\255]") then return false end
    local _, _, err = re_find(v, "^", "jou")
    return err ~= nil
end
function OPS.detectSQLi(_, v) return libinjection.libinjection_sqli(v, #v, fingerprint) == 1 end
function OPS.detectXSS(_, v) return libinjection.libinjection_xss(v, #v) == 1 end
function OPS.unconditionalMatch() return true end
function OPS.noMatch() return false end

local function regex_escape(s)
    return (gsub(s, "[%^%$%(%)%%%.%[%]%*%+%-%?%{%}|\\/]", function(c) return "\\" .. c end))
end

-- loading -------------------------------------------------------------------------

local function prepare(link, where)
    if not OPS[link.op] then error(where .. ": unknown operator " .. tostring(link.op)) end
    link.fn = OPS[link.op]
    if link.op == "pm" then
        local parts = {}
        for i, w in ipairs(link.words or {}) do parts[i] = regex_escape(lower(w)) end
        link.pm_re = #parts > 0 and concat(parts, "|") or "(?!)"
        link.fn = OPS.pm
    elseif link.op == "rx" then
        local _, _, err = re_find("", link.arg, "jos")
        if err then error(where .. ": bad regex: " .. err) end
    elseif link.op == "containsWord" then
        link.arg_re = regex_escape(link.arg)
    elseif link.op == "validateByteRange" then
        local class = {}
        for _, r in ipairs(link.ranges) do
            class[#class + 1] = string.format("\\x%02x-\\x%02x", r[1], r[2])
        end
        link.outside_re = "[^" .. concat(class) .. "]"
    elseif link.op == "eq" or link.op == "ge" or link.op == "gt" or link.op == "lt" or link.op == "le" then
        link.num = tonumber(link.arg) or 0
    end
    -- the characters every match needs, as a Lua pattern class
    if link.need and not link.neg then
        local chars = {}
        for _, c in ipairs(link.need) do
            if c == 0 then chars[#chars + 1] = "%z"
            elseif find(string.char(c), "^%w$") then chars[#chars + 1] = string.char(c)
            else chars[#chars + 1] = "%" .. string.char(c) end
        end
        link.need_class = "[" .. concat(chars) .. "]"
    end
    link.tkey = concat(link.t or {}, ",")
    for _, name in ipairs(link.t or {}) do
        if not transforms[name] then error(where .. ": unknown transformation " .. name) end
    end
    for _, t in ipairs(link.targets) do
        if t.keyre then t.keyre_ci = t.keyre end
    end
    if link.chain then prepare(link.chain, where) end
end

function _M.init(path, removed)
    if not libinjection then load_libinjection() end
    local f, err = io.open(path, "rb")
    if not f then error("cannot read " .. path .. ": " .. tostring(err)) end
    local data, derr = cjson.decode(f:read("*a"))
    f:close()
    if not data then error(path .. ": " .. tostring(derr)) end
    state.ids = {}
    local rules = {}
    for _, rule in ipairs(data.rules) do
        prepare(rule, path .. ": rule " .. tostring(rule.id))
        rule.sid = tostring(rule.id)
        state.ids[rule.sid] = rule
        -- SecRuleRemoveById: switched off everywhere (waf_rules.json, crs_removed_rules)
        if not (removed and removed[rule.sid]) then rules[#rules + 1] = rule end
    end
    state.rules = rules
    state.threshold = data.inbound_anomaly_score_threshold or 5
    state.paranoia_level = data.paranoia_level
    state.unsupported = data.unsupported or {}
    state.loaded = true
end

function _M.loaded() return state.loaded end
function _M.has_rule(id) return state.ids[tostring(id)] ~= nil end
function _M.unsupported() return state.unsupported end

-- the request's collections -------------------------------------------------------
-- Each collection is { names = {...}, values = {...} }, built on first use.

local function add(col, name, value)
    local n = #col.values + 1
    col.names[n] = name
    col.values[n] = value
end

local function new_col() return { names = {}, values = {} } end

local function args_from(map, col, names_col)
    for name, value in pairs(map) do
        if type(value) == "table" then
            for _, v in ipairs(value) do
                add(col, name, type(v) == "string" and v or "")
                add(names_col, name, name)
            end
        else
            add(col, name, type(value) == "string" and value or "")
            add(names_col, name, name)
        end
    end
end

local function json_args(value, col, names_col, depth, prefix)
    if depth > 1000 then return end
    for k, v in pairs(value) do
        local name = type(k) == "string" and k or prefix
        if type(k) == "string" then add(names_col, k, k) end
        local kind = type(v)
        if kind == "string" then add(col, name, v)
        elseif kind == "number" or kind == "boolean" then add(col, name, tostring(v))
        elseif kind == "table" then json_args(v, col, names_col, depth + 1, name)
        end
    end
end

local BUILD = {}

function BUILD.ARGS_GET(ctx)
    local c, n = new_col(), new_col()
    args_from(ctx.query_args, c, n)
    ctx.cols.ARGS_GET_NAMES = n
    return c
end
function BUILD.ARGS_GET_NAMES(ctx)
    ctx.cols.ARGS_GET = ctx.cols.ARGS_GET or BUILD.ARGS_GET(ctx)
    return ctx.cols.ARGS_GET_NAMES
end
function BUILD.ARGS_POST(ctx)
    local c, n = new_col(), new_col()
    if ctx.body_form then args_from(ctx.body_form, c, n)
    elseif ctx.body_json ~= nil and type(ctx.body_json) == "table" then json_args(ctx.body_json, c, n, 0, "json")
    elseif type(ctx.body_json) == "string" then add(c, "json", ctx.body_json) end
    ctx.cols.ARGS_POST_NAMES = n
    return c
end
function BUILD.ARGS_POST_NAMES(ctx)
    ctx.cols.ARGS_POST = ctx.cols.ARGS_POST or BUILD.ARGS_POST(ctx)
    return ctx.cols.ARGS_POST_NAMES
end
local function get(ctx, name)
    local c = ctx.cols[name]
    if not c then
        c = BUILD[name](ctx)
        ctx.cols[name] = c
    end
    return c
end
_M.get = get
local function merge(a, b)
    local c = new_col()
    for i, v in ipairs(a.values) do add(c, a.names[i], v) end
    for i, v in ipairs(b.values) do add(c, b.names[i], v) end
    return c
end
function BUILD.ARGS(ctx) return merge(get(ctx, "ARGS_GET"), get(ctx, "ARGS_POST")) end
function BUILD.ARGS_NAMES(ctx) return merge(get(ctx, "ARGS_GET_NAMES"), get(ctx, "ARGS_POST_NAMES")) end
function BUILD.REQUEST_HEADERS(ctx)
    local c, n = new_col(), new_col()
    for name, value in pairs(ctx.headers) do
        local key = lower(name)
        if type(value) == "table" then
            for _, v in ipairs(value) do add(c, key, v) add(n, key, name) end
        else
            add(c, key, value) add(n, key, name)
        end
    end
    ctx.cols.REQUEST_HEADERS_NAMES = n
    return c
end
function BUILD.REQUEST_HEADERS_NAMES(ctx)
    ctx.cols.REQUEST_HEADERS = ctx.cols.REQUEST_HEADERS or BUILD.REQUEST_HEADERS(ctx)
    return ctx.cols.REQUEST_HEADERS_NAMES
end
function BUILD.REQUEST_COOKIES(ctx)
    local c, n = new_col(), new_col()
    local header = ctx.cookie_header
    if header then
        for name, value in header:gmatch("%s*([^=;]+)=?([^;]*)") do
            name = gsub(name, "%s+$", "")
            add(c, name, value) add(n, name, name)
        end
    end
    ctx.cols.REQUEST_COOKIES_NAMES = n
    return c
end
function BUILD.REQUEST_COOKIES_NAMES(ctx)
    ctx.cols.REQUEST_COOKIES = ctx.cols.REQUEST_COOKIES or BUILD.REQUEST_COOKIES(ctx)
    return ctx.cols.REQUEST_COOKIES_NAMES
end
local function single(name, value)
    local c = new_col()
    if value then add(c, name, value) end
    return c
end
function BUILD.REQUEST_FILENAME(ctx) return single("REQUEST_FILENAME", ctx.path) end
function BUILD.REQUEST_BASENAME(ctx)
    return single("REQUEST_BASENAME", ctx.path:match("[^/\\]*$"))
end
function BUILD.REQUEST_URI(ctx) return single("REQUEST_URI", ctx.request_uri) end
BUILD.REQUEST_URI_RAW = BUILD.REQUEST_URI
function BUILD.REQUEST_LINE(ctx) return single("REQUEST_LINE", ctx.request_line) end
function BUILD.REQUEST_METHOD(ctx) return single("REQUEST_METHOD", ctx.method) end
function BUILD.REQUEST_PROTOCOL(ctx) return single("REQUEST_PROTOCOL", ctx.protocol) end
function BUILD.QUERY_STRING(ctx) return single("QUERY_STRING", ctx.query or "") end
function BUILD.REQUEST_BODY(ctx) return single("REQUEST_BODY", ctx.body) end
function BUILD.REQBODY_PROCESSOR(ctx) return single("REQBODY_PROCESSOR", ctx.body_processor) end
function BUILD.ARGS_COMBINED_SIZE(ctx)
    local total = 0
    local a, n = get(ctx, "ARGS"), get(ctx, "ARGS_NAMES")
    for _, v in ipairs(a.values) do total = total + #v end
    for _, v in ipairs(n.values) do total = total + #v end
    return single("ARGS_COMBINED_SIZE", tostring(total))
end
local EMPTY = new_col()
-- Never filled: multipart bodies are refused, XML bodies are not parsed by any service.
function BUILD.FILES() return EMPTY end
BUILD.FILES_NAMES, BUILD.MULTIPART_PART_HEADERS, BUILD.XML = BUILD.FILES, BUILD.FILES, BUILD.FILES
function BUILD.FILES_COMBINED_SIZE() return single("FILES_COMBINED_SIZE", "0") end

-- evaluation ----------------------------------------------------------------------

local function transformed(ctx, link, v)
    local tk = link.tkey
    if tk == "" then return v end
    local cache = ctx.tcache[tk]
    if not cache then
        cache = {}
        ctx.tcache[tk] = cache
    end
    local r = cache[v]
    if r then return r end
    r = v
    for _, name in ipairs(link.t) do r = transforms[name](r) end
    cache[v] = r
    return r
end

local ARG_COLS = { ARGS = true, ARGS_GET = true, ARGS_POST = true, ARGS_NAMES = true, ARGS_GET_NAMES = true,
                   ARGS_POST_NAMES = true, REQUEST_COOKIES = true, REQUEST_COOKIES_NAMES = true }

local function excluded(link, col, name, ctx, sid)
    local per_field = ctx.field_rules_off[name]
    if per_field and per_field[sid] and ARG_COLS[col] then return true end
    if ctx.skip_fields[name] and (col == "ARGS" or col == "ARGS_POST" or col == "ARGS_GET"
            or col == "REQUEST_COOKIES" or col == "ARGS_NAMES" or col == "ARGS_POST_NAMES"
            or col == "ARGS_GET_NAMES" or col == "REQUEST_COOKIES_NAMES") then
        return true
    end
    local excl = link.excl
    if not excl then return false end
    for _, e in ipairs(excl) do
        if e.col == col then
            if e.key and lower(name) == e.key then return true end
            if e.keyre and re_find(name, e.keyre, "joi") then return true end
            if not e.key and not e.keyre then return true end
        end
    end
    return false
end

-- Runs one link against its targets; returns the number of matched values, and
-- fills ctx.matched (names and values) for the next link of a chain.
local function run_link(ctx, link, prev, sid)
    local matches = 0
    local fn, neg, need = link.fn, link.neg, link.need_class
    local matched_names, matched_values = {}, {}
    if #link.targets == 0 then
        -- a compile-time decision (unconditionalMatch / noMatch)
        if fn(link, "", ctx) ~= (neg or false) then return 1, matched_names, matched_values end
        return 0
    end
    for _, t in ipairs(link.targets) do
        local col_name = t.col
        local col
        if col_name == "MATCHED_VAR" or col_name == "MATCHED_VARS" then
            col = prev or EMPTY
        elseif col_name == "MATCHED_VAR_NAME" or col_name == "MATCHED_VARS_NAMES" then
            col = prev and { names = prev.names, values = prev.names } or EMPTY
        elseif col_name == "TX" then
            col = single("TX:" .. t.key, ctx.tx[t.key])
        else
            col = get(ctx, col_name)
        end
        local names, values = col.names, col.values
        if t.count then
            local n = 0
            for i = 1, #values do
                if (not t.key or lower(names[i]) == t.key) and (not t.keyre or re_find(names[i], t.keyre, "joi")) then
                    n = n + 1
                end
            end
            local v = tostring(n)
            if fn(link, v, ctx) ~= (neg or false) then
                matches = matches + 1
                matched_names[#matched_names + 1] = "&" .. col_name
                matched_values[#matched_values + 1] = v
            end
        else
            for i = 1, #values do
                local name = names[i]
                if (not t.key or lower(name) == t.key) and (not t.keyre or re_find(name, t.keyre, "joi"))
                        and not excluded(link, col_name, name, ctx, sid) then
                    local v = transformed(ctx, link, values[i])
                    local hit
                    if need and not find(v, need) then
                        hit = false
                    else
                        hit = fn(link, v, ctx)
                    end
                    if neg then hit = not hit end
                    if hit then
                        matches = matches + 1
                        matched_names[#matched_names + 1] = col_name .. ":" .. name
                        matched_values[#matched_values + 1] = values[i]
                        ctx.last_target = col_name
                        ctx.last_name = name
                    end
                end
            end
        end
    end
    return matches, matched_names, matched_values
end

-- Evaluates every rule for the request described by ctx (see waf.lua): returns the
-- anomaly score and the list of matched rule ids (or nil).
function _M.evaluate(ctx)
    ctx.cols = ctx.cols or {}
    ctx.tcache = ctx.tcache or {}
    ctx.tx = ctx.tx or {}
    local score, hits = 0, nil
    local off = ctx.rules_off
    for _, rule in ipairs(state.rules) do
        if not off[rule.sid] then
            local matches, names, values = run_link(ctx, rule, nil, rule.sid)
            if matches > 0 then
                local link, prev = rule, { names = names, values = values }
                while link.chain and matches > 0 do
                    link = link.chain
                    matches, names, values = run_link(ctx, link, prev, rule.sid)
                    prev = { names = names, values = values }
                    if matches > 0 then matches = 1 end
                end
                if matches > 0 then
                    score = score + rule.score * matches
                    hits = hits or {}
                    hits[#hits + 1] = rule.sid
                    ctx.targets = ctx.targets or {}
                    ctx.targets[#ctx.targets + 1] = (ctx.last_target or "?") .. ":" .. (ctx.last_name or "")
                end
            end
        end
    end
    return score, hits
end

function _M.threshold() return state.threshold end
function _M.rule(id) return state.ids[tostring(id)] end

return _M
