-- Turns what a client sent into what an application will see, so that encoded
-- payloads (%27, %2527, &#39;, &lt;) meet the WAF patterns in their plain form.
local unescape_uri = ngx.unescape_uri
local re_gsub = ngx.re.gsub
local find, char, lower, tonumber = string.find, string.char, string.lower, tonumber
local utf8_char = require("hotelbook.json").utf8_char

local _M = {}

local named = {
    lt = "<", gt = ">", amp = "&", quot = '"', apos = "'", sol = "/", bsol = "\\",
    lpar = "(", rpar = ")", colon = ":", semi = ";", equals = "=", grave = "`",
    tab = "\t", newline = "\n", nbsp = " ", num = "#", percnt = "%", excl = "!",
}

local function entity(m)
    local body = m[1]
    if find(body, "^#") then
        local cp = find(body, "^#[xX]") and tonumber(body:sub(3), 16) or tonumber(body:sub(2), 10)
        if cp and cp < 0x110000 then
            return cp < 0x80 and char(cp) or utf8_char(cp)
        end
        return m[0]
    end
    return named[lower(body)] or m[0]
end

-- HTML entities, with or without the closing semicolon (browsers accept both).
function _M.html(s)
    if not find(s, "&", 1, true) then return s end
    local out = re_gsub(s, [[&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,8});?]], entity, "jo")
    return out or s
end

-- URL-decodes until nothing changes (at most 3 rounds: %25252527 is still caught),
-- then HTML-entity-decodes, then URL-decodes once more for &#37;27.
function _M.normalize(s)
    if find(s, "%", 1, true) then
        for _ = 1, 3 do
            local d = unescape_uri(s)
            if d == s then break end
            s = d
        end
    end
    if find(s, "&", 1, true) then
        s = _M.html(_M.html(s))
        if find(s, "%", 1, true) then s = unescape_uri(s) end
    end
    return s
end

return _M
