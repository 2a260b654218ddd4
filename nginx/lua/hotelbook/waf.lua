-- The WAF: rules are data (waf_rules.json), this module only applies them.
--
-- A rule looks at one or more targets (method, path, query, headers, header-names,
-- user-agent, cookies, body) and either matches a PCRE pattern against every decoded value
-- of the target, or bounds its size (max_length per value, max_count of values).
-- Each target gets one combined pattern (all its rules OR-ed) so a clean value
-- costs one JIT-compiled regex call; only a hit walks the rules one by one.
local json = require("hotelbook.json")
local decode = require("hotelbook.decode")
local crs = require("hotelbook.crs")

local ngx = ngx
local re_find = ngx.re.find
local normalize = decode.normalize
local find, sub, lower, concat = string.find, string.sub, string.lower, table.concat
local byte = string.byte
local unescape_uri = ngx.unescape_uri
local pairs, ipairs, type = pairs, ipairs, type

local _M = {}

local TARGETS = { method = true, path = true, query = true, headers = true, ["header-names"] = true,
                  ["user-agent"] = true,
                  cookies = true, body = true }
_M.TARGETS = TARGETS

-- Headers never pattern-inspected: cookies are their own target; credentials are
-- opaque and must not end up in logs.
local HEADER_SKIP = { cookie = true, authorization = true }

local state = { mode = "block", by_target = {}, size_rules = {}, exceptions = {}, rules = {} }

-- Values already found clean, per target and per worker (from the second time they
-- are seen, see crs.doorkeeper): browsers repeat the same
-- headers, paths and queries, and a table lookup is ~100x cheaper than the
-- patterns. A single value is remembered when it matched none of the rules (so it is
-- clean on every route); a whole path, query, header block or cookie header when
-- no rule matched it with the route's exceptions, under that route's key. Each memo
-- is emptied when full, which bounds its memory.
local MEMO_MAX_ENTRIES, MEMO_MAX_LENGTH = 2000, 4096
local memo, memo_size = {}, {}
local WHOLE = { whole_path = true, whole_query = true, whole_cookies = true, whole_headers = true }

local function memo_reset()
    for target in pairs(TARGETS) do memo[target], memo_size[target] = {}, 0 end
    for kind in pairs(WHOLE) do memo_size[kind] = 0 end
    memo.routes = {}
    memo.whole_request, memo_size.whole_request = {}, 0
end
memo_reset()

-- The memo of whole values for one route's exceptions.
local function route_memo(route_key)
    local m = memo.routes[route_key]
    if not m then
        m = { whole_path = {}, whole_query = {}, whole_cookies = {}, whole_headers = {} }
        memo.routes[route_key] = m
    end
    return m
end

local seen_before = crs.doorkeeper(4096)

local function remember(kind, s, route_key)
    if #s > MEMO_MAX_LENGTH or not seen_before(kind, s) then return end
    local n = memo_size[kind] + 1
    local m = WHOLE[kind] and route_memo(route_key) or memo
    if n > MEMO_MAX_ENTRIES then
        if WHOLE[kind] then
            for _, r in pairs(memo.routes) do r[kind] = {} end
        else
            memo[kind] = {}
        end
        n = 1
    end
    m[kind][s] = true
    memo_size[kind] = n
end

-- A whole request without a body that matched nothing: its line, under its header block.
local function remember_request(block, line)
    if #line > MEMO_MAX_LENGTH or #block > MEMO_MAX_LENGTH or not seen_before("line", line) then return end
    local n = memo_size.whole_request + 1
    if n > MEMO_MAX_ENTRIES then
        memo.whole_request, n = {}, 1
    end
    local lines = memo.whole_request[block]
    if not lines then
        lines = {}
        memo.whole_request[block] = lines
    end
    lines[line] = true
    memo_size.whole_request = n
end

local function load_file(path)
    local f, err = io.open(path, "rb")
    if not f then error("cannot read " .. path .. ": " .. tostring(err)) end
    local text = f:read("*a")
    f:close()
    local data, derr = json.decode(text)
    if not data then error(path .. ": " .. derr) end
    return data
end
_M.load_file = load_file

local NO_FIELDS, NO_RULES = {}, {}
-- exceptions_for() per method and path, per worker (bounded, emptied when full)
local EXCEPTIONS_CACHE_MAX = 4096
local exceptions_cache, exceptions_cached = {}, 0

local function set_of(list)
    local s = {}
    for _, v in ipairs(list or {}) do s[v] = true end
    return s
end

-- Reads and checks the rules file; errors here make `nginx -t` fail.
function _M.init(path, mode, crs_path)
    local data = load_file(path)
    if crs_path and crs_path ~= "" then
        local removed = {}
        for _, r in ipairs(data.crs_removed_rules or {}) do removed[tostring(r.id)] = true end
        crs.init(crs_path, removed, data.signed_values and data.signed_values.names)
    end
    state.mode = mode or "block"
    local seen, by_target, size_rules = {}, {}, {}
    for i, rule in ipairs(data.rules or {}) do
        local where = path .. ": rule " .. i
        if type(rule.id) ~= "string" or rule.id == "" then error(where .. ": needs an id") end
        if seen[rule.id] then error(where .. ": duplicate id " .. rule.id) end
        seen[rule.id] = true
        rule.action = rule.action or "block"
        if rule.action ~= "block" and rule.action ~= "log" then error(where .. ": action must be block or log") end
        if type(rule.targets) ~= "table" or #rule.targets == 0 then error(where .. ": needs targets") end
        for _, t in ipairs(rule.targets) do
            if not TARGETS[t] then error(where .. ": unknown target " .. tostring(t)) end
        end
        if rule.pattern then
            local _, _, err = re_find("", rule.pattern, "jo")
            if err then error(where .. " (" .. rule.id .. "): bad pattern: " .. err) end
            for _, t in ipairs(rule.targets) do
                by_target[t] = by_target[t] or { rules = {}, parts = {} }
                local entry = by_target[t]
                entry.rules[#entry.rules + 1] = rule
                entry.parts[#entry.parts + 1] = "(?:" .. rule.pattern .. ")"
            end
        elseif rule.max_length or rule.max_count then
            for _, t in ipairs(rule.targets) do
                size_rules[t] = size_rules[t] or {}
                local list = size_rules[t]
                list[#list + 1] = rule
            end
        else
            error(where .. ": needs a pattern, max_length or max_count")
        end
    end
    for t, entry in pairs(by_target) do
        entry.combined = concat(entry.parts, "|")
        local _, _, err = re_find("", entry.combined, "jo")
        if err then error(path .. ": patterns for " .. t .. " do not combine: " .. err) end
        -- compiled once per worker (see crs.finder)
        entry.matches = crs.finder(entry.combined, "jo")
    end
    for i, ex in ipairs(data.exceptions or {}) do
        if not ex.path and not ex.prefix then error(path .. ": exception " .. i .. " needs path or prefix") end
        ex.methods = ex.methods and set_of(ex.methods)
        ex.fields = set_of(ex.fields)
        if ex.rules then
            local ids = {}
            for _, id in ipairs(ex.rules) do ids[#ids + 1] = tostring(id) end
            ex.rules = set_of(ids)
        end
        for id in pairs(ex.rules or {}) do
            -- our rule ids, or CRS rule ids (numbers) when the CRS is loaded
            if not seen[id] and not (crs.loaded() and crs.has_rule(id)) and not find(id, "^%d+$") then
                error(path .. ": exception " .. i .. " names unknown rule " .. id)
            end
        end
    end
    state.by_target, state.size_rules, state.exceptions = by_target, size_rules, data.exceptions or {}
    state.rules = data.rules
    state.max_body = tonumber(data.max_inspected_body) or 1048576
    exceptions_cache, exceptions_cached = {}, 0
    memo_reset()
end

-- The exceptions that apply to this request: fields never inspected and rules off.
local function exceptions_for_uncached(uri, method)
    local fields, rules, field_rules = NO_FIELDS, NO_RULES, NO_FIELDS
    local key = ""
    for i, ex in ipairs(state.exceptions) do
        if (ex.path == uri or (ex.prefix and find(uri, ex.prefix, 1, true) == 1))
                and (not ex.methods or ex.methods[method]) then
            key = key .. i .. ","
            if ex.crs_rules_off_for_fields then
                if field_rules == NO_FIELDS then field_rules = {} end
                for name, ids in pairs(ex.crs_rules_off_for_fields) do
                    field_rules[name] = field_rules[name] or {}
                    for _, id in ipairs(ids) do field_rules[name][tostring(id)] = true end
                end
            end
            if fields == NO_FIELDS then fields = {} end
            for k in pairs(ex.fields) do fields[k] = true end
            if ex.rules then
                if rules == NO_RULES then rules = {} end
                for k in pairs(ex.rules) do rules[k] = true end
            end
        end
    end
    return fields, rules, field_rules, key
end

-- Cached by method and path: pages and API paths repeat.
local function exceptions_for(uri, method)
    local by_method = exceptions_cache[method]
    if not by_method then
        by_method = {}
        exceptions_cache[method] = by_method
    end
    local hit = by_method[uri]
    if hit then return hit[1], hit[2], hit[3], hit[4] end
    local fields, rules, field_rules, key = exceptions_for_uncached(uri, method)
    if #uri <= 512 then
        exceptions_cached = exceptions_cached + 1
        if exceptions_cached > EXCEPTIONS_CACHE_MAX then
            exceptions_cache, exceptions_cached = { [method] = {} }, 1
            by_method = exceptions_cache[method]
        end
        by_method[uri] = { fields, rules, field_rules, key }
    end
    return fields, rules, field_rules, key
end

-- One inspection: hits are collected; the first blocking hit ends it.
local Scan = {}
Scan.__index = Scan

function Scan:hit(rule, target, field)
    local blocking = rule.action == "block" and state.mode == "block"
    self.hits = self.hits or {}
    self.hits[#self.hits + 1] = rule.id
    ngx.log(ngx.WARN, "waf ", blocking and "blocked" or "logged", " rule=", rule.id, " target=", target,
            field and (" field=" .. field) or "", " request_id=", ngx.var.hb_request_id)
    if blocking then self.blocked = rule end
    return blocking
end

-- Pattern rules of one target against one value; true when the request is blocked.
function Scan:value(target, s, field)
    if s == "" then return false end
    local entry = state.by_target[target]
    if not entry then return false end
    local known = memo[target]
    if known[s] then return false end
    local plain = normalize(s)
    if not entry.matches(plain) then
        remember(target, s)  -- no rule of the target matches it: clean wherever it is sent
        return false
    end
    for _, rule in ipairs(entry.rules) do
        if not self.off[rule.id] and re_find(plain, rule.pattern, "jo") then
            if self:hit(rule, target, field) then return true end
        end
    end
    return false
end

function Scan:size(target, length, count, field)
    local list = state.size_rules[target]
    if not list then return false end
    for _, rule in ipairs(list) do
        if not self.off[rule.id] and ((rule.max_length and length and length > rule.max_length)
                or (rule.max_count and count and count > rule.max_count)) then
            if self:hit(rule, target, field) then return true end
        end
    end
    return false
end

-- A name=value map (query args, form fields): names and values, minus excepted
-- fields. The count is of values (a repeated name counts each time), so a
-- payload cannot hide behind the parser's cap on arguments.
-- The same for arrays of names and values (the query, crs.parse_query).
function Scan:field_list(target, names, values, n)
    local skip = self.skip
    for i = 1, n do
        local name = names[i]
        if not skip[name] then
            if self:value(target, name, name) then return true end
            if self:value(target, values[i], name) then return true end
        end
    end
    return self:size(target, nil, n)
end

function Scan:fields(target, args)
    local n = 0
    for name, value in pairs(args) do
        n = n + (type(value) == "table" and #value or 1)
        if not self.skip[name] then
            if self:value(target, name, name) then return true end
            if type(value) == "table" then
                for _, v in ipairs(value) do
                    if type(v) == "string" and self:value(target, v, name) then return true end
                end
            elseif type(value) == "string" and self:value(target, value, name) then
                return true
            end
        end
    end
    return self:size(target, nil, n)
end

function Scan:json(value, depth)
    for k, v in pairs(value) do
        if not self.skip[k] then
            local kind = type(v)
            if type(k) == "string" and self:value("body", k, k) then return true end
            if kind == "string" then
                if self:value("body", v, type(k) == "string" and k or nil) then return true end
            elseif kind == "table" and v ~= json.null then
                if self:json(v, depth + 1) then return true end
            end
        end
    end
    return false
end

local function read_body()
    ngx.req.read_body()
    local data = ngx.req.get_body_data()
    if data then return data end
    -- Bodies larger than client_body_buffer_size wait in a temp file; the
    -- gateway sets that buffer to client_max_body_size so this is rare.
    local file = ngx.req.get_body_file()
    if not file then return nil end
    local f = io.open(file, "rb")
    if not f then return nil end
    data = f:read("*a")
    f:close()
    return data
end

-- The media type as the services (Werkzeug) read it: what comes before the first
-- `;`, trimmed and lower-cased. Parameters never change the kind of body, so
-- `application/json; x="application/x-www-form-urlencoded"` is JSON.
local function media_type(ctype)
    local semi = find(ctype, ";", 1, true)
    if semi then ctype = sub(ctype, 1, semi - 1) end
    return lower((ctype:gsub("^[%s\11\12\28-\31\133\160]+", ""):gsub("[%s\11\12\28-\31\133\160]+$", "")))
end
_M.media_type = media_type

-- "form", "json", "multipart", "xml" or nil (a body no service parses), like Flask's
-- request.is_json and Werkzeug's form parser.
local function body_kind(mt)
    if mt == "application/x-www-form-urlencoded" then return "form" end
    if mt == "application/json" or (find(mt, "^application/") and find(mt, "+json", -5, true)) then
        return "json"
    end
    if mt == "multipart/form-data" then return "multipart" end
    if mt == "text/xml" or mt == "application/xml" or (find(mt, "^application/") and find(mt, "+xml", -4, true)) then
        return "xml"
    end
    return nil
end
_M.body_kind = body_kind

local function trim(s)
    return (s:gsub("^[ \t]+", ""):gsub("[ \t]+$", ""))
end

-- A header value's first token (lower-cased) and its parameters (names lower-cased;
-- quoted values unescaped), as Werkzeug's parse_options_header reads
-- `form-data; name="a"; filename="b.txt"` or `multipart/form-data; boundary=x`.
local function header_params(value)
    local params = {}
    local len = #value
    local semi = find(value, ";", 1, true)
    local first = lower(trim(sub(value, 1, (semi or len + 1) - 1)))
    local pos = semi and semi + 1 or len + 1
    while pos <= len do
        local _, e, key = find(value, "^[ \t]*([^=; \t]+)[ \t]*", pos)
        if not e then
            local nxt = find(value, ";", pos, true)
            if not nxt then break end
            pos = nxt + 1
        else
            pos = e + 1
            local v = ""
            if sub(value, pos, pos) == "=" then
                pos = pos + 1
                local _, e2 = find(value, "^[ \t]*", pos)
                pos = e2 + 1
                if sub(value, pos, pos) == '"' then
                    local buf, n = {}, 0
                    pos = pos + 1
                    while pos <= len do
                        local c = sub(value, pos, pos)
                        if c == "\\" and pos < len then
                            n = n + 1
                            buf[n] = sub(value, pos + 1, pos + 1)
                            pos = pos + 2
                        elseif c == '"' then
                            pos = pos + 1
                            break
                        else
                            n = n + 1
                            buf[n] = c
                            pos = pos + 1
                        end
                    end
                    v = concat(buf)
                else
                    local _, e3 = find(value, "^[^;]*", pos)
                    v = trim(sub(value, pos, e3))
                    pos = e3 + 1
                end
            end
            params[lower(key)] = v
            local nxt = find(value, ";", pos, true)
            pos = nxt and nxt + 1 or len + 1
        end
    end
    return first, params
end
_M.header_params = header_params

-- The parts of a multipart/form-data body: { headers = { {name, value}, ... },
-- lines = { "Name: value", ... }, body = "..." } each, or nil and what is wrong.
-- Line breaks may be CRLF or LF (Werkzeug reads both); anything else that does
-- not follow RFC 7578 (no opening or closing delimiter, a part without its blank
-- line, text after a delimiter) is malformed.
local MAX_PARTS = 1000
local function multipart_parts(data, boundary)
    local delim = "--" .. boundary
    local pos
    if sub(data, 1, #delim) == delim then
        pos = #delim + 1
    else
        local s = find(data, "\n" .. delim, 1, true)
        if not s then return nil, "no opening boundary" end
        pos = s + 1 + #delim
    end
    local parts = {}
    while true do
        if sub(data, pos, pos + 1) == "--" then
            if #parts == 0 then return nil, "no part" end
            return parts
        end
        local eol = find(data, "\n", pos, true)
        if not eol then return nil, "no closing boundary" end
        if find(sub(data, pos, eol - 1), "[^ \t\r]") then return nil, "text after a boundary" end
        pos = eol + 1
        local nxt = find(data, "\n" .. delim, pos - 1, true)
        if not nxt then return nil, "no closing boundary" end
        local stop = nxt - 1
        if stop >= pos and byte(data, stop) == 13 then stop = stop - 1 end
        local raw = sub(data, pos, stop)
        -- the headers end at the first empty line
        local head, body
        if sub(raw, 1, 2) == "\r\n" then
            head, body = "", sub(raw, 3)
        elseif sub(raw, 1, 1) == "\n" then
            head, body = "", sub(raw, 2)
        else
            local a = find(raw, "\r\n\r\n", 1, true)
            local b = find(raw, "\n\n", 1, true)
            local c = find(raw, "\n\r\n", 1, true)
            local cut, skip = nil, 0
            for _, cand in ipairs({ { a, 4 }, { b, 2 }, { c, 3 } }) do
                if cand[1] and (not cut or cand[1] < cut) then cut, skip = cand[1], cand[2] end
            end
            if not cut then return nil, "a part without the blank line after its headers" end
            head, body = sub(raw, 1, cut - 1), sub(raw, cut + skip)
        end
        local headers, lines = {}, {}
        for line in (head .. "\n"):gmatch("([^\n]*)\n") do
            line = line:gsub("\r$", "")
            if find(line, "^[ \t]") and #lines > 0 then
                -- a folded header line continues the previous one
                lines[#lines] = lines[#lines] .. " " .. trim(line)
                headers[#headers][2] = headers[#headers][2] .. " " .. trim(line)
            elseif line ~= "" then
                local colon = find(line, ":", 1, true)
                if not colon then return nil, "a part header without a colon" end
                lines[#lines + 1] = line
                headers[#headers + 1] = { lower(trim(sub(line, 1, colon - 1))), trim(sub(line, colon + 1)) }
            end
        end
        parts[#parts + 1] = { headers = headers, lines = lines, body = body }
        if #parts > MAX_PARTS then return nil, "more than " .. MAX_PARTS .. " parts" end
        pos = nxt + 1 + #delim
    end
end
_M.multipart_parts = multipart_parts

-- The text of an XML document (character data and CDATA sections, comments and
-- processing instructions left out, entities decoded once) and its attribute
-- values: what ModSecurity's XML:/* and XML://@* hold. Lenient on purpose: a body
-- that is not well-formed is still read as text.
local xml_entities = decode.html
local function xml_values(data)
    local texts, attrs = {}, {}
    local pos, len = 1, #data
    while pos <= len do
        local lt = find(data, "<", pos, true)
        if not lt then
            texts[#texts + 1] = sub(data, pos)
            break
        end
        if lt > pos then texts[#texts + 1] = sub(data, pos, lt - 1) end
        if sub(data, lt, lt + 8) == "<![CDATA[" then
            local e = find(data, "]]>", lt + 9, true)
            texts[#texts + 1] = sub(data, lt + 9, (e or len + 1) - 1)
            pos = e and e + 3 or len + 1
        elseif sub(data, lt, lt + 3) == "<!--" then
            local e = find(data, "-->", lt + 4, true)
            pos = e and e + 3 or len + 1
        else
            local gt = find(data, ">", lt + 1, true)
            if not gt then
                -- no tag after all: text
                texts[#texts + 1] = sub(data, lt)
                break
            end
            local tag = sub(data, lt + 1, gt - 1)
            for _, v in tag:gmatch("=%s*([\"'])(.-)%1") do attrs[#attrs + 1] = xml_entities(v) end
            pos = gt + 1
        end
    end
    return xml_entities(concat(texts)), attrs
end
_M.xml_values = xml_values

function Scan:refuse(status, slug, title, detail)
    self.refusal = { status = status, slug = slug, title = title, detail = detail }
    return true
end

local function new_col() return { names = {}, values = {} } end
local function add(col, name, value)
    local n = #col.values + 1
    col.names[n], col.values[n] = name, value
end

-- A body that does not follow its own format: blocked as an evasion (ModSecurity's
-- MULTIPART_STRICT_ERROR), in block mode; logged in detect mode.
function Scan:malformed(id, detail)
    return self:hit({ id = id, action = "block", description = detail }, "body")
end

-- multipart/form-data: part names, file names and the values of the other parts are
-- inspected (our rules, and the CRS as ARGS_POST, FILES, FILES_NAMES,
-- MULTIPART_PART_HEADERS); no route takes such a body, so a clean one is still
-- refused (415) once inspected.
function Scan:multipart(ctype, data)
    self.pending_refusal = { status = 415, slug = "unsupported-media-type", title = "Unsupported Media Type",
                             detail = "multipart/form-data bodies are not accepted here." }
    self.body_raw = data
    self.body_processor = "MULTIPART"
    local _, params = header_params(ctype)
    local boundary = params.boundary
    if not boundary or boundary == "" or #boundary > 200 then
        return self:malformed("multipart-invalid", "A multipart/form-data body without a usable boundary.")
    end
    local parts, err = multipart_parts(data, boundary)
    if not parts then
        return self:malformed("multipart-invalid", "A malformed multipart/form-data body: " .. err .. ".")
    end
    local form, files, files_names, part_headers = {}, new_col(), new_col(), new_col()
    local files_size = 0
    for _, part in ipairs(parts) do
        local disposition
        for _, h in ipairs(part.headers) do
            if h[1] == "content-disposition" then
                if disposition then
                    return self:malformed("multipart-invalid", "A multipart part with two Content-Disposition headers.")
                end
                disposition = h[2]
            end
        end
        if not disposition then
            return self:malformed("multipart-invalid", "A multipart part without Content-Disposition.")
        end
        local kind, p = header_params(disposition)
        local name = p.name
        if kind ~= "form-data" or not name then
            return self:malformed("multipart-invalid", "A multipart part that is not a named form-data field.")
        end
        for _, line in ipairs(part.lines) do add(part_headers, name, line) end
        local filename = p.filename
        local extended = p["filename*"]
        if extended then
            -- RFC 5987: charset'language'percent-encoded
            local encoded = extended:match("^[^']*'[^']*'(.*)$")
            filename = encoded and unescape_uri(encoded) or extended
        end
        if not self.skip[name] then
            if self:value("body", name, name) then return true end
        end
        if filename then
            add(files, name, filename)
            add(files_names, name, name)
            files_size = files_size + #part.body
            if not self.skip[name] and self:value("body", filename, name) then return true end
        else
            local v = part.body
            local prev = form[name]
            if prev == nil then
                form[name] = v
            elseif type(prev) == "table" then
                prev[#prev + 1] = v
            else
                form[name] = { prev, v }
            end
            if not self.skip[name] and self:value("body", v, name) then return true end
        end
    end
    self.body_form = form
    self.body_files, self.body_files_names, self.body_part_headers = files, files_names, part_headers
    self.body_files_size = files_size
    return false
end

-- XML (no service parses it, but it is passed on): the raw text, then its text and
-- attribute values, are inspected by our rules; the CRS reads XML:/*, XML://@* and
-- REQUEST_BODY.
function Scan:xml(data)
    self.body_raw = data
    self.body_processor = "XML"
    if self:value("body", data) then return true end
    local text, attrs = xml_values(data)
    local col = new_col()
    add(col, "/*", text)
    if self:value("body", text) then return true end
    for _, v in ipairs(attrs) do
        add(col, "//@*", v)
        if self:value("body", v) then return true end
    end
    self.body_xml = col
    return false
end

-- Every body is looked at, whatever the method (a service may read a GET's body).
function Scan:body()
    local headers = ngx.req.get_headers(200)
    local ctype = headers["content-type"]
    local length = headers["content-length"]
    if not length and not headers["transfer-encoding"] then return false end
    if type(ctype) == "table" then
        return self:refuse(400, "bad-request", "Bad Request", "More than one Content-Type header.")
    end
    local kind = ctype and body_kind(media_type(ctype))
    local data = read_body()
    if not data or data == "" then return false end
    if kind == "multipart" then return self:multipart(ctype, data) end
    if kind ~= "form" and kind ~= "json" and #data > state.max_body then data = sub(data, 1, state.max_body) end
    if kind == "xml" then return self:xml(data) end
    if not kind then
        -- A body no service parses (no Content-Type, or a type the CRS policy, 920420,
        -- refuses): its raw text, for our rules and the CRS's REQUEST_BODY.
        self.body_raw = data
        return self:value("body", data)
    end
    self.body_raw = data
    self.body_processor = kind == "form" and "URLENCODED" or "JSON"
    if self:size("body", #data) then return true end
    if #data > state.max_body then
        -- Past what is parsed (when no size rule refused it): patterns on the start.
        return self:value("body", sub(data, 1, state.max_body))
    end
    if kind == "form" then
        self.body_form = ngx.decode_args(data, 1000)
        return self:fields("body", self.body_form)
    end
    local value, err = json.decode(data)
    if value == nil and err then
        -- What the WAF cannot read is never passed on: the service would refuse it too.
        return self:refuse(400, "invalid-json", "Bad Request",
                           "The body is not valid JSON (" .. sub(err, 7, 120) .. ").")
    end
    self.body_json = value
    if type(value) == "table" then return self:json(value, 0) end
    if type(value) == "string" then return self:value("body", value) end
    return false
end

function Scan:cookies(header)
    if type(header) == "table" then header = concat(header, "; ") end
    local n = 0
    for name, value in header:gmatch("%s*([^=;]+)=?([^;]*)") do
        n = n + 1
        if not self.skip[name] then
            if self:size("cookies", #value, nil, name) then return true end
            if self:value("cookies", value, name) then return true end
        end
    end
    return self:size("cookies", nil, n)
end

function Scan:headers()
    local headers = ngx.req.get_headers(200)
    local n = 0
    local inspect = state.by_target.headers
    local names = state.by_target["header-names"]
    for name, value in pairs(headers) do
        -- the name as nginx keys it (lower-case)
        if names and self:value("header-names", name, name) then return true end
        if type(value) == "table" then
            for _, v in ipairs(value) do
                n = n + 1
                if self:size("headers", #v, nil, name) then return true end
                if inspect and not HEADER_SKIP[name] and self:value("headers", v, name) then return true end
            end
        else
            n = n + 1
            if self:size("headers", #value, nil, name) then return true end
            if inspect and not HEADER_SKIP[name] and self:value("headers", value, name) then return true end
        end
    end
    if self:size("headers", nil, n) then return true end
    local ua = headers["user-agent"]
    if ua then
        if type(ua) == "table" then ua = concat(ua, " ") end
        if self:value("user-agent", ua) then return true end
    end
    local cookie = headers["cookie"]
    if not cookie then return false end
    if type(cookie) == "table" then cookie = concat(cookie, "; ") end
    if self.memo.whole_cookies[cookie] then return false end
    local hits = self.hits and #self.hits or 0
    if self:cookies(cookie) then return true end
    if (self.hits and #self.hits or 0) == hits then remember("whole_cookies", cookie, self.route_key) end
    return false
end

-- The request as the Core Rule Set sees it (collections are built lazily by crs.lua).

-- REQUEST_FILENAME and REQUEST_BASENAME are the path percent-decoded once, as
-- ModSecurity 3 makes them (`/%3Cscript%3E` is `/<script>` for the rules that read
-- them without t:urlDecodeUni); REQUEST_URI and REQUEST_URI_RAW are as sent.
local function decoded(s)
    if not find(s, "%", 1, true) then return s end
    return unescape_uri(s)
end

-- One context per worker, refilled for each inspection: an evaluation never yields,
-- and nothing reads the context after Scan:crs(). Every field is written each time.
local CTX = {}
local function crs_context(scan, method, path, query)
    local var = ngx.var
    -- the request line and protocol from the raw header block's first line when it
    -- is there (each ngx.var read costs more than a substring)
    local request_line, protocol = scan.request_line, nil
    if request_line then
        for i = #request_line, 1, -1 do
            if byte(request_line, i) == 32 then
                protocol = sub(request_line, i + 1)
                break
            end
        end
    end
    if not request_line or not protocol then request_line, protocol = var.request, var.server_protocol end
    if query and not scan.query_names then
        scan.query_names, scan.query_values = crs.parse_query(query, 200)
    end
    local ctx = CTX
    ctx.method, ctx.path, ctx.query = method, decoded(path), query
    ctx.request_uri = scan.request_uri or var.request_uri
    ctx.request_line, ctx.protocol = request_line, protocol
    -- read when a rule needs them (crs.lua): the headers raw (names as sent);
    -- nginx joins every Cookie header in $http_cookie
    ctx.headers, ctx.cookie_header = false, false
    ctx.query_names, ctx.query_values = scan.query_names, scan.query_values
    ctx.body, ctx.body_form, ctx.body_json = scan.body_raw, scan.body_form, scan.body_json
    ctx.body_processor, ctx.body_files, ctx.body_files_names = scan.body_processor, scan.body_files,
        scan.body_files_names
    ctx.body_part_headers, ctx.body_files_size, ctx.body_xml = scan.body_part_headers, scan.body_files_size,
        scan.body_xml
    ctx.skip_fields, ctx.rules_off, ctx.field_rules_off = scan.skip, scan.off, scan.field_off
    ctx.route_key, ctx.header_block = scan.route_key, scan.header_block
    -- filled by crs.evaluate
    ctx.cols, ctx.tx, ctx.targets = false, false, false
    return ctx
end

-- The Core Rule Set after our own rules: its matches are added to the hits, and
-- the request is blocked when the anomaly score reaches the inbound threshold.
function Scan:crs(method, path, query)
    if not crs.loaded() then return false end
    self.crs_done = true
    local ctx = crs_context(self, method, path, query)
    local score, hits = crs.evaluate(ctx)
    self.score = score
    if not hits then return false end
    self.hits = self.hits or {}
    for i, id in ipairs(hits) do
        self.hits[#self.hits + 1] = id
        ngx.log(ngx.WARN, "waf crs rule=", id, " target=", ctx.targets[i], " request_id=", ngx.var.hb_request_id)
    end
    if score >= crs.threshold() then
        local blocking = state.mode == "block"
        ngx.log(ngx.WARN, "waf ", blocking and "blocked" or "logged", " rule=crs anomaly_score=", score,
                " threshold=", crs.threshold(), " rules=", concat(hits, ","), " request_id=", ngx.var.hb_request_id)
        if blocking and not self.blocked then
            local first = crs.rule(hits[1])
            self.blocked = {
                id = hits[1],
                description = "The request matched OWASP Core Rule Set rules " .. concat(hits, ", ")
                    .. " (anomaly score " .. score .. ", threshold " .. crs.threshold() .. "): "
                    .. (first and first.msg or ""),
            }
            return true
        end
    end
    return false
end

-- Inspects the current request. Returns the blocking rule (or nil), the ids of
-- every rule that matched (or nil), a refusal (a body no service could read the
-- way the WAF did) and the CRS anomaly score.
local function finish(scan, method, path, query)
    -- Blocked by our own rules: the CRS still runs, so the log has the whole picture.
    if scan.blocked and not scan.crs_done and not scan.refusal then scan:crs(method, path, query) end
    -- A body no route takes, inspected and found clean (or only logged): refused now.
    if not scan.blocked and not scan.refusal and scan.pending_refusal then scan.refusal = scan.pending_refusal end
    return scan.blocked, scan.hits, scan.refusal, scan.score or 0
end

-- query_names, query_values, query_n: the query already split (crs.parse_query), or nil.
function _M.inspect(method, uri, request_uri, no_body, query_names, query_values, query_n)
    local var = ngx.var
    request_uri = request_uri or var.request_uri
    local q = find(request_uri, "?", 1, true)
    local path = q and sub(request_uri, 1, q - 1) or request_uri
    local query = q and sub(request_uri, q + 1)
    local has_body = not no_body and (var.http_content_length or var.http_transfer_encoding)
    -- The header block without the request line (the same browser sends the same
    -- block again) and the request line as sent.
    local ok, raw = pcall(ngx.req.raw_header, true)
    if not ok then raw = nil end
    local line = raw and var.request
    -- Fast path: the very same request line and header block, without a body, was
    -- found clean by every rule of both layers before (browsers repeat requests).
    -- Kept as lines per header block, not as whole requests: long strings that
    -- differ in a few bytes only are the worst case for LuaJIT's string table.
    if not has_body and raw then
        local lines = memo.whole_request[raw]
        if lines and lines[line] then return nil, nil, nil, 0 end
    end

    local skip, off, field_off, route_key = exceptions_for(uri, method)
    local scan = setmetatable({ skip = skip, off = off, field_off = field_off, route_key = route_key,
                                header_block = raw, request_line = line, request_uri = request_uri,
                                query_names = query and query_names, query_values = query and query_values },
                              Scan)
    local whole = route_memo(route_key)
    scan.memo = whole
    if scan:value("method", method) then return finish(scan, method, path, query) end
    if not whole.whole_path[path] then
        if scan:size("path", #path) or scan:value("path", path) then return finish(scan, method, path, query) end
        if not scan.hits then remember("whole_path", path, route_key) end
    end
    if query and not whole.whole_query[query] then
        local names, values, n = scan.query_names, scan.query_values, query_n
        if not names then
            names, values, n = crs.parse_query(query, 200)
            scan.query_names, scan.query_values = names, values
        end
        if scan:size("query", #query) or scan:field_list("query", names, values, n) then
            return finish(scan, method, path, query)
        end
        if not scan.hits then remember("whole_query", query, route_key) end
    end
    if not (raw and whole.whole_headers[raw]) then
        if scan:headers() then return finish(scan, method, path, query) end
        if raw and not scan.hits then remember("whole_headers", raw, route_key) end
    end
    -- Scan:body() looks at requests that announce a body (Content-Length or chunked)
    if has_body and (scan:body() or scan.refusal) then return finish(scan, method, path, query) end
    scan:crs(method, path, query)
    -- The whole request line is in the key, so the route (and its exceptions) is too.
    if not has_body and raw and not scan.hits then remember_request(raw, line) end
    return finish(scan, method, path, query)
end

function _M.mode()
    return state.mode
end

return _M
