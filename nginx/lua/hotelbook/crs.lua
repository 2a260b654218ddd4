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

local band, bor, lshift = bit.band, bit.bor, bit.lshift
-- table.new and table.clear of LuaJIT 2.1 (presized tables: no rehash while a
-- request fills them; per-worker tables emptied instead of made anew)
local new_tab, clear_tab
do
    local ok, f = pcall(require, "table.new")
    new_tab = ok and f or function() return {} end
    local ok2, g = pcall(require, "table.clear")
    clear_tab = ok2 and g or function(t) for k in pairs(t) do t[k] = nil end end
end

local _M = {}

-- Byte classes: a value's "mask" says which classes it holds (two 32-bit words).
-- Letters (case-folded) are 26 classes, then digits, whitespace, NUL, other
-- controls, bytes >= 128, and each ASCII punctuation character. A regex whose every
-- match needs one byte of a set (the compiler computes the set) cannot match a
-- value whose mask has none of the set's classes: it is not run. The masks are
-- computed by a loop LuaJIT compiles, once per distinct string of a request.
local MASK_LO, MASK_HI = {}, {}
do
    local PUNCT = [[!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~]]
    local function class_of(b)
        if b >= 97 and b <= 122 then return b - 97 end
        if b >= 65 and b <= 90 then return b - 65 end
        if b >= 48 and b <= 57 then return 26 end
        if b == 32 or (b >= 9 and b <= 13) then return 27 end
        if b == 0 then return 28 end
        if b < 32 or b == 127 then return 29 end
        if b >= 128 then return 30 end
        return 31 + (string.find(PUNCT, string.char(b), 1, true) - 1)
    end
    for b = 0, 255 do
        local k = class_of(b)
        if k < 32 then MASK_LO[b], MASK_HI[b] = lshift(1, k), 0
        else MASK_LO[b], MASK_HI[b] = 0, lshift(1, k - 32) end
        -- the last bit (63) marks upper-case letters: lowercase is a no-op without them
        if b >= 65 and b <= 90 then MASK_HI[b] = bor(MASK_HI[b], lshift(1, 31)) end
    end
end
local ALNUM_LO = 0x07FFFFFF  -- letters and digits: classes 0..26
local UPPER_BIT = lshift(1, 31)
local NOT_UPPER = bit.bnot(UPPER_BIT)
-- The classes of a set of bytes (without the upper-case marker: letters are
-- case-folded, so a set holding `U` is met by a value holding `u`).
local function bytes_mask(list)
    local lo, hi = 0, 0
    for _, b in ipairs(list) do lo, hi = bor(lo, MASK_LO[b]), bor(hi, MASK_HI[b]) end
    return lo, band(hi, NOT_UPPER)
end

-- The mask of a string, not remembered (a raw value is looked at once per collection).
local function raw_mask(v)
    local lo, hi = 0, 0
    for i = 1, #v do
        local b = byte(v, i)
        lo, hi = bor(lo, MASK_LO[b]), bor(hi, MASK_HI[b])
    end
    return lo, hi
end

-- Per worker scratch tables for the strings of one evaluation (which never yields):
-- masks and transformations computed once per request. Only the tables written
-- during an evaluation are emptied before the next one, so a request whose values
-- needed no transformation pays nothing for them, and no table is made per request.
local dirty, ndirty, generation = {}, 0, 0
local stamp = {}
local function touch(t)
    if stamp[t] ~= generation then
        stamp[t] = generation
        ndirty = ndirty + 1
        dirty[ndirty] = t
    end
end
local function scratch_clear()
    for i = 1, ndirty do
        clear_tab(dirty[i])
        dirty[i] = nil
    end
    ndirty = 0
    generation = generation + 1
end
local scratch_masks_lo, scratch_masks_hi = {}, {}
-- transformation chain key -> { value -> result }; transformation name -> { value -> result }
local scratch_tcache, scratch_steps = {}, {}
-- the request's collections, by name (see get())
local scratch_cols = new_tab(0, 48)
-- TX:0..9, the captures of the last matching regex
local scratch_tx = new_tab(0, 16)

local function mask_of(_, v)
    local lo = scratch_masks_lo[v]
    if lo then return lo, scratch_masks_hi[v] end
    local hi = 0
    lo = 0
    for i = 1, #v do
        local b = byte(v, i)
        lo, hi = bor(lo, MASK_LO[b]), bor(hi, MASK_HI[b])
    end
    touch(scratch_masks_lo)
    touch(scratch_masks_hi)
    scratch_masks_lo[v] = lo
    scratch_masks_hi[v] = hi
    return lo, hi
end

-- Transformations that return their input unchanged unless the value holds one of
-- these bytes: skipped on a mask test.
local IDENTITY_UNLESS = {}
do
    local triggers = {
        urlDecode = "%+", urlDecodeUni = "%+", htmlEntityDecode = "&", jsDecode = "\\", cssDecode = "\\",
        escapeSeqDecode = "\\", removeNulls = "\0", replaceNulls = "\0", replaceComments = "/",
        removeCommentsChar = "/*-", normalizePath = "/", normalizePathWin = "/\\",
        compressWhitespace = " \t\n\r\v\f\160", removeWhitespace = " \t\n\r\v\f\160",
        utf8toUnicode = "\128", trim = " \t\n\r\v\f", trimLeft = " \t\n\r\v\f",
        trimRight = " \t\n\r\v\f",
    }
    for name, chars in pairs(triggers) do
        local list = {}
        for i = 1, #chars do list[#list + 1] = byte(chars, i) end
        IDENTITY_UNLESS[name] = { bytes_mask(list) }
    end
    local UPPER = UPPER_BIT
    IDENTITY_UNLESS.lowercase = { 0, UPPER }
    local lo, hi = bytes_mask({ 92, 34, 39, 94, 44, 59, 32, 9, 10, 11, 12, 13 })  -- \ " ' ^ , ; whitespace
    IDENTITY_UNLESS.cmdLine = { lo, bor(hi, UPPER) }
end
_M.mask_of = mask_of

-- What a transformation can turn a value of mask (lo, hi) into, as a mask: a
-- superset of the classes of any output. Used to find, once per distinct mask,
-- the rules that could possibly match a value of that mask (see candidates()).
local ALL_LO, ALL_HI = -1, -1
local function m_of(chars)
    local list = {}
    for i = 1, #chars do list[#list + 1] = byte(chars, i) end
    return bytes_mask(list)
end
local SPACE_LO, SPACE_HI = m_of(" ")
local SLASH_LO, SLASH_HI = m_of("/")
local DIGIT_LO, DIGIT_HI = m_of("0")
local HEX_LO, HEX_HI = m_of("0abcdef")
local PCT_LO, PCT_HI = m_of("%")
local UTF_LO, UTF_HI = m_of("%u0abcdef")
local TRANSFORM_OUT = {}
do
    local function all() return ALL_LO, ALL_HI end
    local function same(lo, hi) return lo, hi end
    local function plus_space(lo, hi) return bor(lo, SPACE_LO), bor(hi, SPACE_HI) end
    local function url(lo, hi)
        if band(lo, PCT_LO) ~= 0 or band(hi, PCT_HI) ~= 0 then return ALL_LO, ALL_HI end
        return plus_space(lo, hi)
    end
    TRANSFORM_OUT = {
        urlDecode = url, urlDecodeUni = url, htmlEntityDecode = all, jsDecode = all, cssDecode = all,
        escapeSeqDecode = all, removeNulls = same, replaceNulls = plus_space, replaceComments = plus_space,
        removeCommentsChar = same, normalizePath = same,
        normalizePathWin = function(lo, hi) return bor(lo, SLASH_LO), bor(hi, SLASH_HI) end,
        compressWhitespace = plus_space, removeWhitespace = same, trim = same, trimLeft = same, trimRight = same,
        utf8toUnicode = function(lo, hi) return bor(lo, UTF_LO), bor(hi, UTF_HI) end,
        lowercase = function(lo, hi) return lo, band(hi, NOT_UPPER) end,
        cmdLine = function(lo, hi) return bor(lo, SPACE_LO), band(bor(hi, SPACE_HI), NOT_UPPER) end,
        length = function() return DIGIT_LO, DIGIT_HI end,
        hexEncode = function() return HEX_LO, HEX_HI end,
        urlEncode = function(lo, hi) return bor(lo, HEX_LO, PCT_LO), bor(hi, HEX_HI, PCT_HI) end,
    }
    setmetatable(TRANSFORM_OUT, { __index = function() return all end })
end

local state = { rules = {}, threshold = 5, loaded = false, ids = {} }

-- Values (route exceptions, collection, name, value) that matched no first link,
-- per worker: browsers repeat their headers and most parameters, and a
-- table lookup is far cheaper than ~100 rules. Emptied when full.
local MEMO_MAX_ENTRIES, MEMO_MAX_LENGTH = 20000, 2048
local memo, memo_size = {}, 0
-- Memos take a value the second time it is seen (per collection): ids, counters
-- and tokens that never come back would otherwise fill them, cost the collector
-- work and push out the values that do repeat. A small table of values seen once,
-- emptied when full. _M.doorkeeper(n) makes one for waf.lua.
function _M.doorkeeper(max)
    local seen, count = {}, 0
    return function(kind, v)
        local by_kind = seen[kind]
        if by_kind and by_kind[v] then return true end
        count = count + 1
        if count > max then seen, count, by_kind = {}, 1, nil end
        if not by_kind then
            by_kind = {}
            seen[kind] = by_kind
        end
        by_kind[v] = true
        return false
    end
end
local seen_before = _M.doorkeeper(4096)
-- Per worker: the first links each field of each route can meet, and those of them
-- a value of a given byte-class mask could match (field_plan(), candidates()).
local PLAN_MAX = 20000
local plan_cache, plan_size = {}, 0
-- Header blocks up to this size are remembered whole when they matched nothing.
local MEMO_MAX_BLOCK = 8192
-- Collections holding the whole request line or body: they repeat only when the
-- whole request does (waf.lua remembers those), so they are not remembered here.
local UNIQUE_COLS = { REQUEST_URI = true, REQUEST_URI_RAW = true, REQUEST_LINE = true, QUERY_STRING = true,
                      REQUEST_BODY = true }
-- Collections that are empty unless the request has a body.
local BODY_COLS = { ARGS_POST = true, ARGS_POST_NAMES = true, REQUEST_BODY = true, FILES = true, FILES_NAMES = true,
                    MULTIPART_PART_HEADERS = true, XML = true, REQBODY_PROCESSOR = true }
local HEADER_COLS = { REQUEST_HEADERS = true, REQUEST_HEADERS_NAMES = true, REQUEST_COOKIES = true,
                      REQUEST_COOKIES_NAMES = true }

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

-- regexes -------------------------------------------------------------------------
-- ngx.re.find with "o" looks its compiled regex up by the string regex .. opts,
-- built on every call: for CRS patterns of several KiB that copy and its garbage
-- cost more than the match. A link keeps its compiled regex instead (compiled in
-- the worker on first use, through resty.core's own compiler and executor); when
-- resty.core does not offer them, ngx.re.find is used.
local fast_exec
do
    local ok, regex = pcall(require, "resty.core.regex")
    local C = ffi.C
    if ok and type(regex) == "table" and regex.re_match_compile then
        local has_exec = pcall(function() return C.ngx_http_lua_ffi_exec_regex end)
        if has_exec then
            local compile = regex.re_match_compile
            local exec = C.ngx_http_lua_ffi_exec_regex
            -- holder[key] = { compiled, flags }
            fast_exec = function(holder, key, regex_s, opts, v)
                local entry = holder[key]
                if entry == nil then
                    local c, _, f = compile(regex_s, opts)
                    if c == nil then return re_find(v, regex_s, opts) ~= nil end
                    entry = { c, f }
                    holder[key] = entry
                end
                return exec(entry[1], entry[2], v, #v, 0) >= 0
            end
        end
    end
end

-- A finder for one regex: f(v) is true when the regex matches somewhere in v.
function _M.finder(regex_s, opts)
    if fast_exec then
        local holder = {}
        return function(v) return fast_exec(holder, "c", regex_s, opts, v) end
    end
    return function(v) return re_find(v, regex_s, opts) ~= nil end
end

-- operators -----------------------------------------------------------------------

local OPS = {}

-- Most CRS rules capture (TX:0-9), but a value rarely matches: the compiled regex
-- answers first, and only a match is run again for its captures. (ngx.re.match
-- finds its compiled regex by the key regex .. opts, a copy of a pattern of
-- several KiB on every call: that garbage once cost more than the matching.)
function OPS.rx(rule, v, ctx)
    if fast_exec and not rule.arg_tpl then
        if not fast_exec(rule, "re_c", rule.arg, "jos", v) then return false end
    elseif not re_find(v, rule.arg, "jos") then
        return false
    end
    if rule.capture then
        local m = re_match(v, rule.arg, "jos")
        if not m then return false end
        for i = 0, 9 do ctx.tx[tostring(i)] = m[i] or nil end
    end
    return true
end
-- @pm: case-insensitive phrases anywhere in the value, as prefix-tree regexes (the
-- compiler writes them; PCRE's JIT walks the tree at each position).
function OPS.pm(rule, v)
    local res = rule.pm_re
    for i = 1, #res do
        if fast_exec then
            local holder = rule.pm_c
            if not holder then
                holder = {}
                rule.pm_c = holder
            end
            if fast_exec(holder, i, res[i], "joi", v) then return true end
        elseif re_find(v, res[i], "joi") then
            return true
        end
    end
    return false
end
-- The same without the regexes (a rule file of an older compiler): the phrases
-- looked up by their first two bytes at each position of the value.
function OPS.pm_lua(rule, v)
    local lv = lower(v)
    local singles, by2 = rule.pm_singles, rule.pm_by2
    local n = #lv
    for i = 1, n do
        local b = byte(lv, i)
        if singles[b] then return true end
        if i < n then
            local list = by2[b * 256 + byte(lv, i + 1)]
            if list then
                for j = 1, #list do
                    local w = list[j]
                    if sub(lv, i, i + #w - 1) == w then return true end
                end
            end
        end
    end
    return false
end
-- A fused policy chain (see crs.py, fuse_capture_chain): a piece of the value
-- captured, decorated, transformed, then looked up in a list (@within).
function OPS.rxWithin(rule, v)
    if fast_exec and not fast_exec(rule, "re_c", rule.arg, "jos", v) then return false end
    local m = re_match(v, rule.arg, "jos")
    if not m then return false end
    local piece = rule.prefix .. (m[rule.group] or "") .. rule.suffix
    for _, name in ipairs(rule.then_t) do piece = transforms[name](piece) end
    local inside = find(rule.within, piece, 1, true) ~= nil
    if rule.within_neg then return not inside end
    return inside
end
function OPS.streq(rule, v) return v == rule.arg end
function OPS.contains(rule, v) return find(v, rule.arg, 1, true) ~= nil end
function OPS.containsWord(rule, v)
    if fast_exec then return fast_exec(rule, "re_c", rule.word_re, "jo", v) end
    return re_find(v, rule.word_re, "jo") ~= nil
end
function OPS.beginsWith(rule, v) return sub(v, 1, #rule.arg) == rule.arg end
function OPS.endsWith(rule, v) return #rule.arg == 0 or sub(v, -#rule.arg) == rule.arg end
function OPS.within(rule, v) return find(rule.arg, v, 1, true) ~= nil end
function OPS.eq(rule, v) return (tonumber(v) or 0) == rule.num end
function OPS.ge(rule, v) return (tonumber(v) or 0) >= rule.num end
function OPS.gt(rule, v) return (tonumber(v) or 0) > rule.num end
function OPS.lt(rule, v) return (tonumber(v) or 0) < rule.num end
function OPS.le(rule, v) return (tonumber(v) or 0) <= rule.num end
function OPS.validateByteRange(rule, v, ctx)
    local lo, hi = mask_of(ctx, v)
    if band(lo, rule.outside_lo) == 0 and band(hi, rule.outside_hi) == 0 then return false end
    local allowed = rule.allowed
    for i = 1, #v do
        if not allowed[byte(v, i)] then return true end
    end
    return false
end
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
        local singles, by2 = {}, {}
        for _, w in ipairs(link.words or {}) do
            w = lower(w)
            if #w == 1 then singles[byte(w)] = true
            elseif #w > 1 then
                local key = byte(w, 1) * 256 + byte(w, 2)
                by2[key] = by2[key] or {}
                local list = by2[key]
                list[#list + 1] = w
            end
        end
        link.pm_singles, link.pm_by2 = singles, by2
        link.fn = OPS.pm_lua
        if link.pm_re then
            for _, re in ipairs(link.pm_re) do
                local _, _, err = re_find("", re, "joi")
                if err then error(where .. ": bad phrase regex: " .. err) end
            end
            link.fn = OPS.pm
        end
    elseif link.op == "rx" then
        local _, _, err = re_find("", link.arg, "jos")
        if err then error(where .. ": bad regex: " .. err) end
    elseif link.op == "rxWithin" then
        local _, _, err = re_find("", link.arg, "jos")
        if err then error(where .. ": bad regex: " .. err) end
        for _, name in ipairs(link.then_t) do
            if not transforms[name] then error(where .. ": unknown transformation " .. name) end
        end
    elseif link.op == "containsWord" then
        link.arg_re = regex_escape(link.arg)
        link.word_re = [[(?<![A-Za-z0-9_])]] .. link.arg_re .. [[(?![A-Za-z0-9_])]]
    elseif link.op == "validateByteRange" then
        local class = {}
        for _, r in ipairs(link.ranges) do
            class[#class + 1] = string.format("\\x%02x-\\x%02x", r[1], r[2])
        end
        link.outside_re = "[^" .. concat(class) .. "]"
    elseif link.op == "eq" or link.op == "ge" or link.op == "gt" or link.op == "lt" or link.op == "le" then
        link.num = tonumber(link.arg) or 0
    end
    -- literal pieces of which every match holds one (crs.py, required_factors)
    if not (link.factors and link.op == "rx" and not link.neg and not link.arg_tpl) then link.factors = nil end
    -- the bytes every match needs, as mask bits
    if link.need and not link.neg then
        link.need_lo, link.need_hi = bytes_mask(link.need)
    end
    if link.op == "validateByteRange" then
        local allowed = {}
        for _, r in ipairs(link.ranges) do
            for c = r[1], r[2] do allowed[c] = true end
        end
        link.allowed = allowed
        local outside = {}
        for c = 0, 255 do if not allowed[c] then outside[#outside + 1] = c end end
        link.outside_lo, link.outside_hi = bytes_mask(outside)
    end
    link.tkey = concat(link.t or {}, ",")
    -- the bytes that would make one of the chain's transformations change a value
    local idle_lo, idle_hi = 0, 0
    for _, name in ipairs(link.t or {}) do
        local idle = IDENTITY_UNLESS[name]
        if not idle then
            idle_lo = nil
            break
        end
        idle_lo, idle_hi = bor(idle_lo, idle[1]), bor(idle_hi, idle[2])
    end
    link.idle_lo, link.idle_hi = idle_lo, idle_hi
    for _, name in ipairs(link.t or {}) do
        if not transforms[name] then error(where .. ": unknown transformation " .. name) end
    end
    for _, t in ipairs(link.targets) do
        if t.keyre then t.keyre_ci = t.keyre end
    end
    if link.chain then prepare(link.chain, where) end
end

local build_index  -- below, with the evaluation

-- Arguments and cookies whose values our services sign and verify before any use
-- (waf_rules.json, signed_values): such a value made only of base64url characters
-- and dots is left to the signature check; random characters in it now and then
-- spell an entry of a CRS list (".nsr" in lfi-os-files.data). Any other character
-- and it is inspected like every value.
local SIGNED_COLS = { ARGS = true, ARGS_POST = true, ARGS_GET = true, REQUEST_COOKIES = true }
local signed_names = {}

local function signed_shape(col_name, name, raw)
    return signed_names[name] and SIGNED_COLS[col_name] and not find(raw, "[^%w_.%-]")
end
_M.signed_shape = signed_shape

function _M.init(path, removed, signed)
    signed_names = {}
    for _, name in ipairs(signed or {}) do signed_names[name] = true end
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
    for i, rule in ipairs(rules) do rule.index = i end
    state.rules = rules
    state.by_col, state.cols, state.per_request = build_index(rules)
    -- the collections a request without a body can fill
    state.cols_bodiless = {}
    for _, name in ipairs(state.cols) do
        if not BODY_COLS[name] then state.cols_bodiless[#state.cols_bodiless + 1] = name end
    end
    memo, memo_size = {}, 0
    plan_cache, plan_size = {}, 0
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
-- The empty collection, shared: collections are never changed once built.
local EMPTY = new_col()

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

-- The query's arguments in order, as nginx decodes them (`+` and %XX; an argument
-- without a name left out, one without `=` an empty value), at most `max`: two
-- arrays, no hash table to walk.
local unescape_uri = ngx.unescape_uri
local function unescaped(s)
    if find(s, "%", 1, true) or find(s, "+", 1, true) then return unescape_uri(s) end
    return s
end
function _M.parse_query(q, max)
    local names, values, n = {}, {}, 0
    local pos, len = 1, #q
    while pos <= len and n < max do
        local amp = find(q, "&", pos, true) or len + 1
        if amp > pos then
            local eq = find(q, "=", pos, true)
            local name, value
            if eq and eq < amp then
                name, value = sub(q, pos, eq - 1), sub(q, eq + 1, amp - 1)
            else
                name, value = sub(q, pos, amp - 1), ""
            end
            if name ~= "" then
                n = n + 1
                names[n], values[n] = unescaped(name), unescaped(value)
            end
        end
        pos = amp + 1
    end
    return names, values, n
end

function BUILD.ARGS_GET(ctx)
    local names, values = ctx.query_names, ctx.query_values
    if names then
        -- the arrays of parse_query, shared (collections are never changed)
        ctx.cols.ARGS_GET_NAMES = { names = names, values = names }
        return { names = names, values = values }
    end
    local c, n = new_col(), new_col()
    args_from(ctx.query_args or {}, c, n)
    ctx.cols.ARGS_GET_NAMES = n
    return c
end
function BUILD.ARGS_GET_NAMES(ctx)
    ctx.cols.ARGS_GET = ctx.cols.ARGS_GET or BUILD.ARGS_GET(ctx)
    return ctx.cols.ARGS_GET_NAMES
end
function BUILD.ARGS_POST(ctx)
    if not ctx.body_form and ctx.body_json == nil then
        ctx.cols.ARGS_POST_NAMES = EMPTY
        return EMPTY
    end
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
    -- collections are never changed once built: one of two may stand for both
    if #b.values == 0 then return a end
    if #a.values == 0 then return b end
    local c = new_col()
    for i, v in ipairs(a.values) do add(c, a.names[i], v) end
    for i, v in ipairs(b.values) do add(c, b.names[i], v) end
    return c
end
function BUILD.ARGS(ctx) return merge(get(ctx, "ARGS_GET"), get(ctx, "ARGS_POST")) end
function BUILD.ARGS_NAMES(ctx) return merge(get(ctx, "ARGS_GET_NAMES"), get(ctx, "ARGS_POST_NAMES")) end
local function headers_of(ctx)
    local headers = ctx.headers
    if not headers then
        headers = ngx.req.get_headers(200, true)
        ctx.headers = headers
    end
    return headers
end

function BUILD.REQUEST_HEADERS(ctx)
    local c, n = new_col(), new_col()
    for name, value in pairs(headers_of(ctx)) do
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
    if header == false then header = ngx.var.http_cookie end
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
local SINGLE_NAMES = setmetatable({}, { __index = function(t, name)
    local names = { name }
    t[name] = names
    return names
end })
-- One collection of one value per name, per worker, refilled on each use: the
-- evaluation of a request never yields, so no other request sees it meanwhile,
-- and a request's collections are not read after its evaluation.
local SINGLE_COLS = setmetatable({}, { __index = function(t, name)
    local col = { names = SINGLE_NAMES[name], values = {} }
    t[name] = col
    return col
end })
local function single(name, value)
    if not value then return EMPTY end
    local col = SINGLE_COLS[name]
    col.values[1] = value
    return col
end
function BUILD.REQUEST_FILENAME(ctx) return single("REQUEST_FILENAME", ctx.path) end
-- path -> its last segment, per worker (paths repeat; bounded, emptied when full)
local basenames, nbasenames = {}, 0
function BUILD.REQUEST_BASENAME(ctx)
    local path = ctx.path
    local base = basenames[path]
    if not base then
        base = path:match("[^/\\]*$")
        nbasenames = nbasenames + 1
        if nbasenames > 4096 then basenames, nbasenames = {}, 1 end
        basenames[path] = base
    end
    return single("REQUEST_BASENAME", base)
end
function BUILD.REQUEST_URI(ctx) return single("REQUEST_URI", ctx.request_uri) end
function BUILD.REQUEST_URI_RAW(ctx) return single("REQUEST_URI_RAW", ctx.request_uri_raw or ctx.request_uri) end
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
-- The multipart and XML collections, as waf.lua read the body (empty for other bodies):
-- FILES (part name -> file name), FILES_NAMES (part names of files),
-- MULTIPART_PART_HEADERS (part name -> each header line of the part), XML ("/*" ->
-- the document's text, "//@*" -> each attribute value).
function BUILD.FILES(ctx) return ctx.body_files or EMPTY end
function BUILD.FILES_NAMES(ctx) return ctx.body_files_names or EMPTY end
function BUILD.MULTIPART_PART_HEADERS(ctx) return ctx.body_part_headers or EMPTY end
function BUILD.XML(ctx) return ctx.body_xml or EMPTY end
function BUILD.FILES_COMBINED_SIZE(ctx) return single("FILES_COMBINED_SIZE", tostring(ctx.body_files_size or 0)) end

-- evaluation ----------------------------------------------------------------------

-- The value as the link's transformations make it, and its mask, from the raw
-- value and its mask. Every transformation of a string is computed once per
-- request, whatever chains it is part of.
local function transformed(ctx, link, v, lo, hi)
    local tk = link.tkey
    if tk == "" then return v, lo, hi end
    -- the usual case: nothing in the value that any transformation of the chain
    -- would change
    local idle_lo = link.idle_lo
    if idle_lo and band(lo, idle_lo) == 0 and band(hi, link.idle_hi) == 0 then return v, lo, hi end
    local results = scratch_tcache[tk]
    if not results then
        results = {}
        scratch_tcache[tk] = results
    end
    local r = results[v]
    if r then return r, mask_of(ctx, r) end
    r = v
    local steps = scratch_steps
    for _, name in ipairs(link.t) do
        local idle = IDENTITY_UNLESS[name]
        if not (idle and band(lo, idle[1]) == 0 and band(hi, idle[2]) == 0) then
            local step = steps[name]
            if not step then
                step = {}
                steps[name] = step
            end
            local r2 = step[r]
            if not r2 then
                r2 = transforms[name](r)
                touch(step)
                step[r] = r2
            end
            if r2 ~= r then
                r = r2
                if name == "lowercase" then
                    -- exact without a scan: letters are case-folded in the classes,
                    -- only the upper-case marker goes
                    hi = band(hi, NOT_UPPER)
                    if not scratch_masks_lo[r] then
                        touch(scratch_masks_lo)
                        touch(scratch_masks_hi)
                        scratch_masks_lo[r], scratch_masks_hi[r] = lo, hi
                    end
                else
                    lo, hi = mask_of(ctx, r)
                end
            end
        end
    end
    touch(results)
    results[v] = r
    return r, lo, hi
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

-- One value against one link: transformation (cached), the mask test, the operator.
-- An operator argument read per request (crs.py, template()): captures, headers.
local function resolve_arg(link, ctx)
    local parts = {}
    for i, piece in ipairs(link.arg_tpl) do
        if type(piece) == "string" then
            parts[i] = piece
        elseif piece.tx then
            parts[i] = ctx.tx[piece.tx] or ""
        else
            local value = ""
            for name, v in pairs(headers_of(ctx)) do
                if lower(name) == piece.header then
                    value = type(v) == "table" and (v[1] or "") or v
                    break
                end
            end
            parts[i] = value
        end
    end
    link.arg = concat(parts)
    link.num = tonumber(link.arg) or 0
end

-- Values at least this long are searched for a regex's required literals before
-- the regex runs: a few plain searches cost less than a regex scanning every
-- position of a long value (bodies, long headers). On short values the regex alone
-- is cheaper (measured: the GET with new values used ~6% more CPU with the search
-- on every value).
local FACTOR_MIN_LENGTH = 96

-- Whether v (in lower case) holds one of the literals; the lower-case value is the
-- one t:lowercase makes, computed once per request.
local function has_factor(v, factors)
    local step = scratch_steps.lowercase
    if not step then
        step = {}
        scratch_steps.lowercase = step
    end
    local lv = step[v]
    if not lv then
        lv = lower(v)
        touch(step)
        step[v] = lv
    end
    for i = 1, #factors do
        if find(lv, factors[i], 1, true) then return true end
    end
    return false
end

-- One value (of mask lo, hi) against one link: transformation (cached), the mask
-- test, the operator.
local function test_value(ctx, link, raw, lo, hi)
    if not lo then lo, hi = mask_of(ctx, raw) end
    local v
    v, lo, hi = transformed(ctx, link, raw, lo, hi)
    local hit
    local need_lo = link.need_lo
    if need_lo and band(lo, need_lo) == 0 and band(hi, link.need_hi) == 0 then
        hit = false
    elseif link.alnum_skip and band(hi, NOT_UPPER) == 0 and band(lo, ALNUM_LO) == lo then
        -- one word of letters and digits is a single token: neither SQL injection
        -- nor XSS for libinjection
        hit = false
    elseif link.factors and #v >= FACTOR_MIN_LENGTH and not has_factor(v, link.factors) then
        hit = false
    else
        if link.arg_tpl then resolve_arg(link, ctx) end
        hit = link.fn(link, v, ctx)
    end
    if link.neg then return not hit end
    return hit
end

local function selects(t, name)
    return (not t.key or lower(name) == t.key) and (not t.keyre or re_find(name, t.keyre, "joi") ~= nil)
end

-- Runs one link against its targets (all of them, or only those `only` accepts);
-- returns the number of matched values and their names and values (the next
-- link's MATCHED_VARS).
local function run_link(ctx, link, prev, sid, only)
    local matches = 0
    local matched_names, matched_values = {}, {}
    if #link.targets == 0 then
        -- a compile-time decision (unconditionalMatch / noMatch)
        if link.fn(link, "", ctx) ~= (link.neg or false) then return 1, matched_names, matched_values end
        return 0, matched_names, matched_values
    end
    for _, t in ipairs(link.targets) do
        if not only or only(t) then
            local col_name = t.col
            local col
            if col_name == "MATCHED_VAR" or col_name == "MATCHED_VARS" then
                col = prev or EMPTY
            elseif col_name == "MATCHED_VAR_NAME" or col_name == "MATCHED_VARS_NAMES" then
                col = prev and { names = prev.names, values = prev.names } or EMPTY
            elseif col_name == "TX" then
                col = single(t.key, ctx.tx[t.key])
            else
                col = get(ctx, col_name)
            end
            local names, values = col.names, col.values
            if t.count then
                local n = 0
                for i = 1, #values do
                    if selects(t, names[i]) then n = n + 1 end
                end
                local v = tostring(n)
                if link.arg_tpl then resolve_arg(link, ctx) end
                if link.fn(link, v, ctx) ~= (link.neg or false) then
                    matches = matches + 1
                    matched_names[#matched_names + 1] = "&" .. col_name
                    matched_values[#matched_values + 1] = v
                end
            else
                for i = 1, #values do
                    local name = names[i]
                    if selects(t, name) and not excluded(link, col_name, name, ctx, sid)
                            and test_value(ctx, link, values[i]) then
                        matches = matches + 1
                        matched_names[#matched_names + 1] = col_name .. ":" .. name
                        matched_values[#matched_values + 1] = values[i]
                    end
                end
            end
        end
    end
    return matches, matched_names, matched_values
end

local function request_level(t) return t.count or t.col == "TX" end

-- Index of the first links by collection, built at init: each request value is
-- visited once, against the rules that look at its collection.
build_index = function(rules)
    local by_col, cols, per_request = {}, {}, {}
    for _, rule in ipairs(rules) do
        rule.alnum_skip = rule.op == "detectSQLi" or rule.op == "detectXSS"
        local link = rule.chain
        while link do
            link.alnum_skip = link.op == "detectSQLi" or link.op == "detectXSS"
            link = link.chain
        end
        if #rule.targets == 0 then per_request[#per_request + 1] = rule end
        -- the links after the first read only header fields (no capture, no matched
        -- value, no per-request argument): their outcome is the header block's
        rule.tail_header_only = rule.chain ~= nil and not rule.capture
        local tail = rule.chain
        while tail do
            if tail.capture or tail.arg_tpl or tail.setvars or #tail.targets == 0 then
                rule.tail_header_only = false
            end
            for _, t in ipairs(tail.targets) do
                if not (HEADER_COLS[t.col] or t.col == "REQUEST_METHOD" or t.col == "REQUEST_PROTOCOL") then
                    rule.tail_header_only = false
                end
            end
            tail = tail.chain
        end
        -- a count of header fields only: decided by the header block alone
        rule.header_only = #rule.targets > 0
        for _, t in ipairs(rule.targets) do
            if not HEADER_COLS[t.col] then rule.header_only = false end
        end
        local listed = false
        for _, t in ipairs(rule.targets) do
            if request_level(t) then
                if not listed then per_request[#per_request + 1] = rule; listed = true end
            else
                if not by_col[t.col] then
                    by_col[t.col] = {}
                    cols[#cols + 1] = t.col
                end
                local list = by_col[t.col]
                list[#list + 1] = { rule = rule, t = t }
            end
        end
    end
    return by_col, cols, per_request
end


-- The matches of a rule's first link: (collection, field name, value) triples in
-- the array part; the "COLLECTION:name" labels are made only when needed
-- (matched_vars(), the log's target).
local function record(found, rule, col_name, name, raw, ctx)
    local m = found[rule]
    if not m then
        m = { n = 0 }
        found[rule] = m
        found[#found + 1] = rule
    end
    local n = m.n + 1
    m.n = n
    m[3 * n - 2], m[3 * n - 1], m[3 * n] = col_name, name, raw
    if rule.capture then
        m.tx = {}
        for i = 0, 9 do m.tx[i + 1] = ctx.tx[tostring(i)] or false end
    end
end

local function label(col_name, name)
    if name == false then return col_name end
    return col_name .. ":" .. name
end

-- MATCHED_VARS for the next link of a chain: { names = labels, values = values }.
local function matched_vars(m)
    local names, values = {}, {}
    for i = 1, m.n do
        names[i] = label(m[3 * i - 2], m[3 * i - 1])
        values[i] = m[3 * i]
    end
    return { names = names, values = values }
end

-- The first links of a collection that could match a value of mask (lo, hi): a
-- link is left out only when no value of that mask can match it, whatever the
-- value (the needed bytes of its regex absent from every possible output of its
-- transformations; a single word of letters and digits for libinjection; no byte
-- outside the allowed ranges). Computed once per (collection, mask) and worker.

local function may_match(link, lo, hi)
    for _, name in ipairs(link.t) do
        local idle = IDENTITY_UNLESS[name]
        if not (idle and band(lo, idle[1]) == 0 and band(hi, idle[2]) == 0) then
            lo, hi = TRANSFORM_OUT[name](lo, hi)
        end
    end
    local need_lo = link.need_lo
    if need_lo and band(lo, need_lo) == 0 and band(hi, link.need_hi) == 0 then return false end
    if link.alnum_skip and band(hi, NOT_UPPER) == 0 and band(lo, ALNUM_LO) == lo then return false end
    if link.op == "validateByteRange" and not link.neg
            and band(lo, link.outside_lo) == 0 and band(hi, link.outside_hi) == 0 then
        return false
    end
    return true
end
_M.may_match = may_match

-- The first links that look at the field `name` of a collection on this route
-- (key selectors, exclusions and the route's exceptions applied): once per worker.
local function field_plan(ctx, entries, col_name, name)
    local list = {}
    local off = ctx.rules_off
    for j = 1, #entries do
        local e = entries[j]
        local rule = e.rule
        if not off[rule.sid] and selects(e.t, name) and not excluded(rule, col_name, name, ctx, rule.sid) then
            list[#list + 1] = rule
        end
    end
    plan_size = plan_size + 1
    if plan_size > PLAN_MAX then plan_cache, plan_size = {}, 0 end
    return { rules = list, masks = {} }
end

-- Those of a field's first links that could match a value of mask (lo, hi).
local function candidates(plan, lo, hi)
    local masks = plan.masks
    local by_lo = masks[lo]
    if not by_lo then
        by_lo = {}
        masks[lo] = by_lo
    end
    local list = by_lo[hi]
    if list then return list end
    list = {}
    local rules = plan.rules
    for j = 1, #rules do
        if may_match(rules[j], lo, hi) then list[#list + 1] = rules[j] end
    end
    plan_size = plan_size + 1
    if plan_size > PLAN_MAX then plan_cache, plan_size = {}, 0
    else by_lo[hi] = list end
    return list
end

-- Evaluates every rule for the request described by ctx (see waf.lua): returns the
-- anomaly score and the list of matched rule ids (or nil).
function _M.evaluate(ctx)
    scratch_clear()
    clear_tab(scratch_cols)
    clear_tab(scratch_tx)
    ctx.cols, ctx.tx = scratch_cols, scratch_tx
    local off = ctx.rules_off
    -- the exceptions of the route are part of the memo's key
    local route_key = ctx.route_key or ""
    local found = {}
    -- 1. every value of every collection against the first links that could match it
    local memo_route = memo[route_key]
    if not memo_route then
        memo_route = {}
        memo[route_key] = memo_route
    end
    -- The header block (names, values, cookies) was found clean before on this route:
    -- its collections are not walked again (chains and counts still read them).
    local block = ctx.header_block
    local blocks = memo_route[0]
    if not blocks then
        blocks = {}
        memo_route[0] = blocks
    end
    -- per header block, method and protocol: { clean = true when the block matched
    -- nothing, [rule] = the outcome of a chain whose later links read only these }
    local method, protocol = ctx.method or "", ctx.protocol or ""
    local bstate
    if block and #block <= MEMO_MAX_BLOCK then
        local by_method = blocks[block]
        local by_protocol = by_method and by_method[method]
        bstate = by_protocol and by_protocol[protocol]
    end
    local skip_headers = bstate and bstate.clean
    local header_hit = false
    local plans = plan_cache[route_key]
    if not plans then
        plans = {}
        plan_cache[route_key] = plans
    end
    local bodiless = ctx.body == nil and ctx.body_form == nil and ctx.body_json == nil and ctx.body_processor == nil
        and ctx.body_files == nil and ctx.body_files_names == nil and ctx.body_part_headers == nil
        and ctx.body_xml == nil
    for _, col_name in ipairs(bodiless and state.cols_bodiless or state.cols) do
        if not (skip_headers and HEADER_COLS[col_name]) then
            local entries = state.by_col[col_name]
            local col = get(ctx, col_name)
            local names, values = col.names, col.values
            local memo_names = memo_route[col_name]
            if not memo_names then
                memo_names = {}
                memo_route[col_name] = memo_names
            end
            local col_plans = plans[col_name]
            if not col_plans then
                col_plans = {}
                plans[col_name] = col_plans
            end
            for i = 1, #values do
                local name, raw = names[i], values[i]
                -- memo[route_key][col_name][name][raw]: lookups of strings that exist already;
                -- true (no first link matched) or the first links it matched, when their
                -- outcome depends on the value alone (no capture, no per-request argument)
                local known = memo_names[name]
                local seen = known and known[raw]
                if seen and seen ~= true then
                    for j = 1, #seen do
                        local rule = seen[j]
                        -- a chain known to end without a match for this header block
                        if not (bstate and rule.tail_header_only and bstate[rule] == false) then
                            record(found, rule, col_name, name, raw, ctx)
                        end
                    end
                    if HEADER_COLS[col_name] then header_hit = true end
                elseif not seen and not signed_shape(col_name, name, raw) then
                    local any, matched = false, nil
                    local plan = col_plans[name]
                    if not plan then
                        plan = field_plan(ctx, entries, col_name, name)
                        col_plans[name] = plan
                    end
                    local lo, hi = raw_mask(raw)
                    local cand = candidates(plan, lo, hi)
                    for j = 1, #cand do
                        local rule = cand[j]
                        if test_value(ctx, rule, raw, lo, hi) then
                            record(found, rule, col_name, name, raw, ctx)
                            if not any then matched = {} end
                            any = true
                            if matched and not rule.capture and not rule.arg_tpl then
                                matched[#matched + 1] = rule
                            else
                                matched = nil
                            end
                        end
                    end
                    if any and HEADER_COLS[col_name] then header_hit = true end
                    if (not any or matched) and #raw <= MEMO_MAX_LENGTH and not UNIQUE_COLS[col_name]
                            and seen_before(col_name, raw) then
                        memo_size = memo_size + 1
                        if memo_size > MEMO_MAX_ENTRIES then
                            memo, memo_size = {}, 1
                            memo_route = {}
                            memo[route_key] = memo_route
                            memo_names = {}
                            memo_route[col_name] = memo_names
                        end
                        known = memo_names[name]
                        if not known then
                            known = {}
                            memo_names[name] = known
                        end
                        known[raw] = matched or true
                    end
                end
            end
        end
    end
    -- 2. first links on counts (&ARGS) and compile-time decisions
    for _, rule in ipairs(state.per_request) do
        if not off[rule.sid] and not (skip_headers and rule.header_only) then
            local n, names, values = run_link(ctx, rule, nil, rule.sid, #rule.targets > 0 and request_level or nil)
            for k = 1, n do record(found, rule, names[k], false, values[k], ctx) end
            if n > 0 and rule.header_only then header_hit = true end
        end
    end
    if block and not bstate and #block <= MEMO_MAX_BLOCK then
        memo_size = memo_size + 1
        bstate = {}
        blocks = memo_route[0] or {}  -- the memo may have been emptied meanwhile
        memo_route[0] = blocks
        local by_method = blocks[block] or {}
        blocks[block] = by_method
        local by_protocol = by_method[method] or {}
        by_method[method] = by_protocol
        by_protocol[protocol] = bstate
    end
    if bstate and not header_hit then bstate.clean = true end
    -- 3. in rule order: chains, then the score
    local score, hits = 0, nil
    -- in rule order (few entries: an insertion sort, no callbacks from C)
    for i = 2, #found do
        local rule = found[i]
        local j = i - 1
        while j >= 1 and found[j].index > rule.index do
            found[j + 1] = found[j]
            j = j - 1
        end
        found[j + 1] = rule
    end
    for _, rule in ipairs(found) do
        local m = found[rule]
        do
            local matches = m.n
            if m.tx then
                for i = 0, 9 do ctx.tx[tostring(i)] = m.tx[i + 1] or nil end
            end
            local link, prev = rule, nil
            local known
            if bstate and rule.tail_header_only then known = bstate[rule] end
            if known ~= nil then
                -- the rest of the chain reads only this header block: decided before
                matches = known and 1 or 0
            else
                if link.chain and matches > 0 then prev = matched_vars(m) end
                while link.chain and matches > 0 do
                    link = link.chain
                    local names, values
                    matches, names, values = run_link(ctx, link, prev, rule.sid)
                    prev = { names = names, values = values }
                    if matches > 0 then matches = 1 end
                end
                if bstate and rule.tail_header_only then bstate[rule] = matches > 0 end
            end
            if matches > 0 then
                score = score + rule.score * matches
                hits = hits or {}
                hits[#hits + 1] = rule.sid
                ctx.targets = ctx.targets or {}
                ctx.targets[#ctx.targets + 1] = label(m[1], m[2])
            end
        end
    end
    return score, hits
end

function _M.threshold() return state.threshold end
function _M.rule(id) return state.ids[tostring(id)] end

return _M
