-- JSON for the gateway: decoding with lua-cjson under Python's grammar (the
-- services' parser), and a small encoder for problem documents whose strings are
-- also safe inside HTML.
local byte, char, sub, find, format = string.byte, string.char, string.sub, string.find, string.format
local concat, floor = table.concat, math.floor
local type, tostring, pairs, ipairs, next, error, pcall = type, tostring, pairs, ipairs, next, error, pcall

local _M = {}

-- a table marked as a JSON array even when empty
local array_mt = {}
_M.array_mt = array_mt

local escapes = {
    ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
    ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}

local function escape_char(c)
    return escapes[c] or format("\\u%04x", byte(c))
end

-- Quotes a Lua string as a JSON string. Control characters, quotes, backslashes
-- and DEL are escaped; other bytes pass through (UTF-8 stays UTF-8). The
-- characters < > & and the line separators U+2028/9 are escaped too, so the
-- result is also safe inside HTML and JavaScript.
function _M.quote(s)
    s = s:gsub('[%c"\\<>&\127]', function(c)
        if c == "<" then return "\\u003c" elseif c == ">" then return "\\u003e"
        elseif c == "&" then return "\\u0026" elseif c == "\127" then return "\\u007f" end
        return escape_char(c)
    end)
    s = s:gsub("\226\128\168", "\\u2028"):gsub("\226\128\169", "\\u2029")
    return '"' .. s .. '"'
end

local function is_array(t)
    if getmetatable(t) == array_mt then return true end
    local n = 0
    for k in pairs(t) do
        if type(k) ~= "number" or k <= 0 or floor(k) ~= k then return false end
        n = n + 1
    end
    return n > 0 and n == #t
end

local encode_value

local function encode_table(t, depth)
    if depth > 32 then error("json: nesting too deep") end
    local out = {}
    if is_array(t) then
        for i, v in ipairs(t) do out[i] = encode_value(v, depth + 1) end
        return "[" .. concat(out, ",") .. "]"
    end
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)  -- stable output, easier to read in logs and tests
    for i, k in ipairs(keys) do
        local v = t[k]
        if v == nil then v = t[tonumber(k)] end
        out[i] = _M.quote(k) .. ":" .. encode_value(v, depth + 1)
    end
    return "{" .. concat(out, ",") .. "}"
end

encode_value = function(v, depth)
    local kind = type(v)
    if kind == "string" then return _M.quote(v)
    elseif kind == "number" then
        if v ~= v or v == math.huge or v == -math.huge then return "null" end
        if floor(v) == v and v > -1e15 and v < 1e15 then return format("%d", v) end
        return format("%.14g", v)
    elseif kind == "boolean" then return tostring(v)
    elseif v == nil or v == _M.null then return "null"
    elseif kind == "table" then return encode_table(v, depth)
    end
    error("json: cannot encode a " .. kind)
end

function _M.encode(v)
    return encode_value(v, 0)
end

-- decoding ---------------------------------------------------------------------
--
-- Decoding is Debian's lua-cjson. cjson accepts a little more than Python's
-- `json` (raw control characters in strings, `01`, `+1`, `0x10`, `nan`, anything
-- after a NUL byte) and a little less (lone UTF-16 surrogates `\ud800`). The
-- services parse with Python's `json`, so a body is first checked against
-- Python's grammar (RFC 8259 plus NaN, Infinity, -Infinity; whitespace is space,
-- tab, CR, LF; valid UTF-8): what passes both is what the services will see.

local cjson = require("cjson.safe").new()
cjson.decode_invalid_numbers(true)   -- NaN, Infinity: Python accepts them
cjson.decode_max_depth(1000)         -- Python's recursion limit is about the same
_M.null = cjson.null

local WS = [[[ \t\n\r]*+]]
local PYTHON_GRAMMAR = table.concat({
    [[\A]], WS, [[(?&v)]], WS, [[\z(?(DEFINE)]],
    [[(?<s>"(?:[^"\\\x00-\x1f]++|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*+")]],
    [[(?<n>-?(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+(?:[eE][-+]?[0-9]++)?+|NaN|-?Infinity)]],
    [[(?<o>\{]], WS, [[(?:(?&s)]], WS, ":", WS, [[(?&v)]], WS,
    [[(?:,]], WS, [[(?&s)]], WS, ":", WS, [[(?&v)]], WS, [[)*+)?\})]],
    [[(?<a>\[]], WS, [[(?:(?&v)]], WS, [[(?:,]], WS, [[(?&v)]], WS, [[)*+)?\])]],
    [[(?<v>(?&s)|(?&n)|(?&o)|(?&a)|true|false|null))]],
})

-- True when Python's json.loads would accept the UTF-8 text s.
function _M.python_accepts(s)
    local from = ngx.re.find(s, PYTHON_GRAMMAR, "jou")
    return from ~= nil
end

local function utf8_char(cp)
    if cp < 0x80 then return char(cp)
    elseif cp < 0x800 then return char(0xC0 + floor(cp / 0x40), 0x80 + cp % 0x40)
    elseif cp < 0x10000 then
        return char(0xE0 + floor(cp / 0x1000), 0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
    end
    return char(0xF0 + floor(cp / 0x40000), 0x80 + floor(cp / 0x1000) % 0x40,
                0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
end
_M.utf8_char = utf8_char

-- Decodes a JSON text that Python would accept too; returns value, or nil and an error.
function _M.decode(s)
    if not _M.python_accepts(s) then return nil, "json: not valid JSON (as Python's json module reads it)" end
    local value, err = cjson.decode(s)
    if value == nil and err then return nil, "json: " .. err end
    return value
end

return _M
