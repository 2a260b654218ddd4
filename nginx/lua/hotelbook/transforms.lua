-- ModSecurity's transformations (t:...) as the Core Rule Set uses them. Each takes
-- a string and returns a string; most return their input unchanged at the cost of
-- one plain `find` when the value holds nothing they would change.
local ngx = ngx
local re_gsub = ngx.re.gsub
local byte, char, find, sub, lower, gsub, format = string.byte, string.char, string.find, string.sub,
    string.lower, string.gsub, string.format
local concat, tonumber = table.concat, tonumber
local band = bit.band

local _M = {}

-- %uHHHH and \uHHHH: ModSecurity keeps the low byte, except for the full-width
-- forms U+FF01..U+FF5E, which become their ASCII twins (＜ is <).
local function unicode_byte(cp)
    if cp >= 0xFF01 and cp <= 0xFF5E then return char(cp - 0xFEE0) end
    return char(band(cp, 0xFF))
end

local function hex_byte(h) return char(tonumber(h, 16)) end

function _M.urlDecode(s)
    if not find(s, "[%%+]") then return s end
    s = gsub(s, "+", " ")
    return (gsub(s, "%%(%x%x)", hex_byte))
end

function _M.urlDecodeUni(s)
    if not find(s, "[%%+]") then return s end
    s = gsub(s, "+", " ")
    s = gsub(s, "%%[uU](%x%x%x%x)", function(h) return unicode_byte(tonumber(h, 16)) end)
    return (gsub(s, "%%(%x%x)", hex_byte))
end

local NAMED = { quot = '"', amp = "&", lt = "<", gt = ">", nbsp = "\160", apos = "'", colon = ":",
                lpar = "(", rpar = ")", sol = "/", bsol = "\\", semi = ";", equals = "=", grave = "`",
                tab = "\t", newline = "\n", excl = "!", num = "#", percnt = "%", comma = "," }

local function entity(m)
    local body = m[1]
    if byte(body, 1) == 35 then  -- #
        local cp
        if byte(body, 2) == 120 or byte(body, 2) == 88 then cp = tonumber(sub(body, 3), 16)
        else cp = tonumber(sub(body, 2), 10) end
        if cp then return char(band(cp, 0xFF)) end
        return m[0]
    end
    return NAMED[lower(body)] or m[0]
end

function _M.htmlEntityDecode(s)
    if not find(s, "&", 1, true) then return s end
    return (re_gsub(s, [[&(#[xX][0-9a-fA-F]{1,8}|#[0-9]{1,10}|[a-zA-Z]{2,8});?]], entity, "jo")) or s
end

local JS_SIMPLE = { a = "\a", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", v = "\v" }

local function js_escape(m)
    local e = m[1]
    local first = sub(e, 1, 1)
    if first == "u" or first == "U" then return unicode_byte(tonumber(sub(e, 2), 16)) end
    if first == "x" or first == "X" then return char(tonumber(sub(e, 2), 16)) end
    if find(first, "[0-7]") then return char(band(tonumber(e, 8), 0xFF)) end
    return JS_SIMPLE[first] or first
end

function _M.jsDecode(s)
    if not find(s, "\\", 1, true) then return s end
    return (re_gsub(s, [[\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[0-7]{1,3}|[\s\S])]], js_escape, "jo")) or s
end

local function css_escape(m)
    local e = m[1]
    if e == "\n" then return "" end
    if find(e, "^%x") then
        return unicode_byte(tonumber((gsub(e, "%s$", "")), 16))
    end
    return e
end

function _M.cssDecode(s)
    if not find(s, "\\", 1, true) then return s end
    return (re_gsub(s, [[\\([0-9a-fA-F]{1,6}[ \t\n\f\r]?|[\s\S])]], css_escape, "jo")) or s
end

-- Windows/Unix command-line evasions: \ " ' ^ removed, , and ; become spaces,
-- spaces before / and ( removed, whitespace compressed, lower-cased.
-- Bytes cmdLine changes besides capitals (\ " ' ^ , ; and whitespace), tested by a
-- byte loop LuaJIT compiles (a pattern find would leave the trace).
local CMDLINE_BYTES = {}
for _, c in ipairs({ 92, 34, 39, 94, 44, 59, 32, 9, 10, 11, 12, 13 }) do CMDLINE_BYTES[c] = true end
local BASE64_BYTES = {}
for c = 0, 255 do
    local ch = char(c)
    BASE64_BYTES[c] = ch:match("[%w+/=]") ~= nil
end

local function has_any(s, set)
    for i = 1, #s do
        if set[byte(s, i)] then return true end
    end
    return false
end
local function all_in(s, set)
    for i = 1, #s do
        if not set[byte(s, i)] then return false end
    end
    return true
end

function _M.cmdLine(s)
    if not has_any(s, CMDLINE_BYTES) then return lower(s) end
    s = gsub(s, "[\\\"'^]", "")
    s = gsub(s, "[,;]", " ")
    s = gsub(s, "%s+", " ")
    s = gsub(s, " ([/(])", "%1")
    return lower(s)
end

function _M.compressWhitespace(s)
    if not find(s, "[%s\160]") then return s end
    return (gsub(s, "[%s\160]+", " "))
end

function _M.removeWhitespace(s)
    if not find(s, "[%s\160]") then return s end
    return (gsub(s, "[%s\160]+", ""))
end

function _M.removeNulls(s)
    if not find(s, "\0", 1, true) then return s end
    return (gsub(s, "%z", ""))
end

function _M.replaceNulls(s)
    if not find(s, "\0", 1, true) then return s end
    return (gsub(s, "%z", " "))
end

function _M.replaceComments(s)
    if not find(s, "/*", 1, true) then return s end
    s = gsub(s, "/%*.-%*/", " ")
    return (gsub(s, "/%*.*$", " "))
end

function _M.removeCommentsChar(s)
    return (gsub(gsub(gsub(s, "/%*", ""), "%*/", ""), "%-%-", ""))
end

function _M.normalizePath(s)
    if not find(s, "[/.]") then return s end
    local absolute = sub(s, 1, 1) == "/"
    local trailing = #s > 1 and sub(s, -1) == "/"
    local out = {}
    for part in s:gmatch("[^/]+") do
        if part == ".." then
            if #out > 0 and out[#out] ~= ".." then out[#out] = nil
            elseif not absolute then out[#out + 1] = ".." end
        elseif part ~= "." then
            out[#out + 1] = part
        end
    end
    local r = (absolute and "/" or "") .. concat(out, "/")
    if trailing and r ~= "/" then r = r .. "/" end
    return r
end

function _M.normalizePathWin(s)
    return _M.normalizePath((gsub(s, "\\", "/")))
end

-- Multi-byte UTF-8 sequences become %uHHHH (for urlDecodeUni to fold). Like
-- ModSecurity, overlong forms are decoded too: %c0%ae is a dot.
function _M.utf8toUnicode(s)
    if not find(s, "[\128-\255]") then return s end
    local out, n, i, len = {}, 0, 1, #s
    while i <= len do
        local c = byte(s, i)
        local cp, size
        if c >= 0xC0 and c < 0xE0 and i + 1 <= len then
            local c2 = byte(s, i + 1)
            if band(c2, 0xC0) == 0x80 then cp, size = (c - 0xC0) * 64 + (c2 - 0x80), 2 end
        elseif c >= 0xE0 and c < 0xF0 and i + 2 <= len then
            local c2, c3 = byte(s, i + 1, i + 2)
            if band(c2, 0xC0) == 0x80 and band(c3, 0xC0) == 0x80 then
                cp, size = (c - 0xE0) * 4096 + (c2 - 0x80) * 64 + (c3 - 0x80), 3
            end
        elseif c >= 0xF0 and c < 0xF8 and i + 3 <= len then
            local c2, c3, c4 = byte(s, i + 1, i + 3)
            if band(c2, 0xC0) == 0x80 and band(c3, 0xC0) == 0x80 and band(c4, 0xC0) == 0x80 then
                cp, size = band((c - 0xF0) * 262144 + (c2 - 0x80) * 4096 + (c3 - 0x80) * 64 + (c4 - 0x80), 0xFFFF), 4
            end
        end
        n = n + 1
        if cp then
            out[n] = format("%%u%04x", cp)
            i = i + size
        else
            out[n] = char(c)
            i = i + 1
        end
    end
    return concat(out)
end

function _M.base64Decode(s)
    local t = s
    if not all_in(s, BASE64_BYTES) then t = gsub(s, "[^%w+/=]", "") end
    return ngx.decode_base64(t) or s
end
_M.base64DecodeExt = _M.base64Decode

function _M.hexDecode(s)
    if find(s, "[^%x]") or #s % 2 == 1 then return s end
    return (gsub(s, "%x%x", hex_byte))
end

function _M.sqlHexDecode(s)
    return (gsub(s, "0[xX](%x+)", function(h)
        if #h % 2 == 1 then return nil end
        return (gsub(h, "%x%x", hex_byte))
    end))
end

function _M.hexEncode(s)
    return (gsub(s, ".", function(c) return format("%02x", byte(c)) end))
end

function _M.urlEncode(s) return ngx.escape_uri(s) end
function _M.length(s) return tostring(#s) end
function _M.lowercase(s) return lower(s) end
function _M.trim(s) return (gsub(gsub(s, "^%s+", ""), "%s+$", "")) end
function _M.trimLeft(s) return (gsub(s, "^%s+", "")) end
function _M.trimRight(s) return (gsub(s, "%s+$", "")) end
function _M.sha1(s) return ngx.sha1_bin(s) end
function _M.md5(s) return ngx.md5_bin(s) end

local ESC = { a = "\a", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", v = "\v", ["\\"] = "\\", ["?"] = "?",
              ["'"] = "'", ['"'] = '"' }
function _M.escapeSeqDecode(s)
    if not find(s, "\\", 1, true) then return s end
    return (re_gsub(s, [[\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|[abfnrtv\\?'"])]], function(m)
        local e = m[1]
        if ESC[e] then return ESC[e] end
        if sub(e, 1, 1) == "x" then return char(tonumber(sub(e, 2), 16)) end
        return char(band(tonumber(e, 8), 0xFF))
    end, "jo")) or s
end


return _M
