-- Minimal JSON for the gateway: Debian's ngx_lua ships without lua-cjson, so the
-- config files are decoded and problem documents encoded here, the same way
-- under OpenResty. Decoding runs at start-up and for JSON bodies the WAF inspects.
local byte, char, sub, find, format = string.byte, string.char, string.sub, string.find, string.format
local concat, floor = table.concat, math.floor
local type, tostring, pairs, ipairs, next, error, pcall = type, tostring, pairs, ipairs, next, error, pcall

local _M = {}

-- a table marked as a JSON array even when empty
local array_mt = {}
_M.array_mt = array_mt
_M.null = setmetatable({}, { __tostring = function() return "null" end })

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

local function decode_error(s, pos, what)
    error(format("json: %s at character %d", what, pos), 0)
end

local function skip_ws(s, pos)
    local _, e = find(s, "^[ \t\r\n]*", pos)
    return e + 1
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

local simple_escapes = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" }

local function decode_string(s, pos)
    -- pos is just after the opening quote
    local parts, start = {}, pos
    while true do
        local q = find(s, '["\\%c]', pos)
        if not q then decode_error(s, pos, "unterminated string") end
        local c = sub(s, q, q)
        if c == '"' then
            parts[#parts + 1] = sub(s, start, q - 1)
            return concat(parts), q + 1
        elseif c == "\\" then
            parts[#parts + 1] = sub(s, start, q - 1)
            local e = sub(s, q + 1, q + 1)
            if simple_escapes[e] then
                parts[#parts + 1] = simple_escapes[e]
                pos = q + 2
            elseif e == "u" then
                local hex = sub(s, q + 2, q + 5)
                if not find(hex, "^%x%x%x%x$") then decode_error(s, q, "bad \\u escape") end
                local cp = tonumber(hex, 16)
                pos = q + 6
                if cp >= 0xD800 and cp <= 0xDBFF and sub(s, pos, pos + 1) == "\\u" then
                    local low = tonumber(sub(s, pos + 2, pos + 5), 16)
                    if low and low >= 0xDC00 and low <= 0xDFFF then
                        cp = 0x10000 + (cp - 0xD800) * 0x400 + (low - 0xDC00)
                        pos = pos + 6
                    end
                end
                parts[#parts + 1] = utf8_char(cp)
            else
                decode_error(s, q, "bad escape")
            end
            start = pos
        else
            decode_error(s, q, "control character in string")
        end
    end
end

local decode_value

local function decode_array(s, pos, depth)
    local out = setmetatable({}, array_mt)
    pos = skip_ws(s, pos)
    if sub(s, pos, pos) == "]" then return out, pos + 1 end
    while true do
        local v
        v, pos = decode_value(s, pos, depth + 1)
        out[#out + 1] = v
        pos = skip_ws(s, pos)
        local c = sub(s, pos, pos)
        if c == "]" then return out, pos + 1 end
        if c ~= "," then decode_error(s, pos, "expected , or ]") end
        pos = pos + 1
    end
end

local function decode_object(s, pos, depth)
    local out = {}
    pos = skip_ws(s, pos)
    if sub(s, pos, pos) == "}" then return out, pos + 1 end
    while true do
        if sub(s, pos, pos) ~= '"' then decode_error(s, pos, "expected a key") end
        local k
        k, pos = decode_string(s, pos + 1)
        pos = skip_ws(s, pos)
        if sub(s, pos, pos) ~= ":" then decode_error(s, pos, "expected :") end
        local v
        v, pos = decode_value(s, pos + 1, depth + 1)
        out[k] = v
        pos = skip_ws(s, pos)
        local c = sub(s, pos, pos)
        if c == "}" then return out, pos + 1 end
        if c ~= "," then decode_error(s, pos, "expected , or }") end
        pos = skip_ws(s, pos + 1)
    end
end

decode_value = function(s, pos, depth)
    if depth > 64 then decode_error(s, pos, "nesting too deep") end
    pos = skip_ws(s, pos)
    local c = sub(s, pos, pos)
    if c == "{" then return decode_object(s, pos + 1, depth)
    elseif c == "[" then return decode_array(s, pos + 1, depth)
    elseif c == '"' then return decode_string(s, pos + 1)
    elseif sub(s, pos, pos + 3) == "true" then return true, pos + 4
    elseif sub(s, pos, pos + 4) == "false" then return false, pos + 5
    elseif sub(s, pos, pos + 3) == "null" then return _M.null, pos + 4
    end
    local _, e = find(s, "^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
    if e then
        local n = tonumber(sub(s, pos, e))
        if n then return n, e + 1 end
    end
    decode_error(s, pos, "unexpected character")
end

-- Decodes a JSON text; returns value, or nil and an error message.
function _M.decode(s)
    local ok, value, pos = pcall(decode_value, s, 1, 0)
    if not ok then return nil, value end
    pos = skip_ws(s, pos)
    if pos <= #s then return nil, format("json: trailing data at character %d", pos) end
    return value
end

return _M
