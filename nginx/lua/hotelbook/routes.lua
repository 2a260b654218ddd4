-- The allow-list of public operations (routes.json): method + path pattern per
-- service. A request that matches no operation is not passed on.
--
-- Patterns are written as the service sees the path, under the service's gateway
-- prefix: `{name}` is one path segment, `{name+}` one or more. They are matched
-- against nginx's normalised $uri (percent-decoded, `.`/`..` resolved, slashes
-- merged), which is also what the upstream receives (every proxy_pass carries a
-- URI), so the check and the service see the same path.
local json = require("hotelbook.json")

local re_find = ngx.re.find

local _M = {}

-- method -> { exact path -> true }, method -> { compiled pattern, ... }; empty
-- until init: nothing is public unless routes.json says so.
local exact, patterns = {}, {}

local function add(method, path)
    if not path:find("{", 1, true) then
        exact[method] = exact[method] or {}
        exact[method][path] = true
        return
    end
    -- Quote everything but the parameters, which become segment classes.
    local out, last = {}, 1
    for s, plus, e in path:gmatch("(){[%w_]+(%+?)}()") do
        out[#out + 1] = (path:sub(last, s - 1):gsub("[^%w/_-]", "\\%0"))
        out[#out + 1] = plus == "+" and "[^/].*" or "[^/]+"
        last = e
    end
    out[#out + 1] = (path:sub(last):gsub("[^%w/_-]", "\\%0"))
    -- \\z, not $: `$` would also match before a trailing newline (%0A).
    local regex = "^" .. table.concat(out) .. "\\z"
    patterns[method] = patterns[method] or {}
    table.insert(patterns[method], regex)
end

-- Reads and checks routes.json; errors here make `nginx -t` (render.py --check) fail.
-- `own` lists paths the gateway answers itself (GET), such as the published OpenAPI document.
function _M.init(path, own)
    local f, err = io.open(path, "rb")
    if not f then error("cannot read " .. path .. ": " .. tostring(err)) end
    local data, derr = json.decode(f:read("*a"))
    f:close()
    if not data then error(path .. ": " .. derr) end
    exact, patterns = {}, {}
    for service, entry in pairs(data.services or {}) do
        local prefix = entry.prefix or ""
        if type(prefix) ~= "string" or (prefix ~= "" and not prefix:find("^/[%w/_-]*[%w_-]$")) then
            error(path .. ": service " .. service .. ": bad prefix " .. tostring(prefix))
        end
        for i, op in ipairs(entry.operations or {}) do
            local p = op.path
            if type(p) ~= "string" or p:sub(1, 1) ~= "/" or type(op.methods) ~= "table" or #op.methods == 0 then
                error(path .. ": service " .. service .. ", operation " .. i .. " needs a path and methods")
            end
            for _, m in ipairs(op.methods) do
                if not m:find("^[A-Z]+$") then error(path .. ": " .. service .. " " .. p .. ": bad method " .. m) end
                add(m, prefix .. p)
                -- HEAD goes wherever GET goes.
                if m == "GET" then add("HEAD", prefix .. p) end
            end
        end
    end
    for _, p in ipairs(own or {}) do
        add("GET", p)
        add("HEAD", p)
    end
    -- Fail now on a pattern PCRE refuses, not on the first request.
    for _, list in pairs(patterns) do
        for _, regex in ipairs(list) do
            local _, _, rerr = re_find("", regex, "jo")
            if rerr then error(path .. ": pattern " .. regex .. ": " .. rerr) end
        end
    end
end

-- Where a browser's request for a page that is not public is sent instead: a path
-- the booking UI has no route for, so it answers its friendly 404 page.
_M.NOT_FOUND_PAGE = "/page-not-found"

-- True for a GET/HEAD from a browser (it accepts HTML) of a path the booking UI
-- would serve (not /api/, /oauth/, /.well-known/): it deserves a page, not JSON.
function _M.browser_page(method, uri, accept)
    if method ~= "GET" and method ~= "HEAD" then return false end
    if not accept or not accept:find("text/html", 1, true) then return false end
    return not (uri == "/api" or uri:find("^/api/") or uri:find("^/oauth/") or uri:find("^/%.well%-known/"))
end

-- True when (method, normalised uri) is a public operation.
function _M.allowed(method, uri)
    local paths = exact[method]
    if paths and paths[uri] then return true end
    local list = patterns[method]
    if not list then return false end
    for i = 1, #list do
        if re_find(uri, list[i], "jo") then return true end
    end
    return false
end

return _M
