-- The gateway's counters in Prometheus text, served on an internal listener only.
--
--   count()  log phase: answers by status class, rate-limit rejections by policy,
--            WAF blocks by rule (each rule that took part in a block)
--   serve()  content of `location = /metrics` on the internal listener
-- Counters live in lua_shared_dict hb_metrics, shared by every worker; they start
-- again from zero when nginx restarts, which Prometheus' rate() expects.
local ngx = ngx
local floor, gmatch, gsub, concat, sort = math.floor, string.gmatch, string.gsub, table.concat, table.sort

local _M = {}

local FAMILIES = {
    { prefix = "req|", name = "hotelbook_gateway_requests_total", label = "status",
      help = "Requests answered by the gateway, by status class" },
    { prefix = "rl|", name = "hotelbook_gateway_ratelimit_rejections_total", label = "policy",
      help = "Requests refused with 429 by a rate-limit policy" },
    { prefix = "waf|", name = "hotelbook_gateway_waf_blocks_total", label = "rule",
      help = "Requests blocked by the WAF, counted once for each rule that matched" },
}

local function incr(dict, key)
    local ok, err = dict:incr(key, 1, 0)
    if not ok then ngx.log(ngx.WARN, "metrics: ", err) end
end

function _M.count()
    local dict = ngx.shared.hb_metrics
    if not dict then return end
    local var = ngx.var
    incr(dict, "req|" .. floor(ngx.status / 100) .. "xx")
    if var.hb_rl == "limited" then incr(dict, "rl|" .. var.hb_rl_policy) end
    if var.hb_waf_action == "blocked" then
        for rule in gmatch(var.hb_waf_rule, "[^,]+") do incr(dict, "waf|" .. rule) end
    end
end

local function label_value(text)
    return (gsub(gsub(gsub(text, "\\", "\\\\"), "\n", "\\n"), '"', '\\"'))
end

function _M.serve()
    local dict = ngx.shared.hb_metrics
    local keys = dict and dict:get_keys(0) or {}
    sort(keys)
    local out = {}
    for _, family in ipairs(FAMILIES) do
        out[#out + 1] = "# HELP " .. family.name .. " " .. family.help
        out[#out + 1] = "# TYPE " .. family.name .. " counter"
        local n = #family.prefix
        for _, key in ipairs(keys) do
            if key:sub(1, n) == family.prefix then
                out[#out + 1] = family.name .. "{" .. family.label .. '="' .. label_value(key:sub(n + 1)) .. '"} '
                    .. (dict:get(key) or 0)
            end
        end
    end
    ngx.header["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
    ngx.print(concat(out, "\n"), "\n")
end

return _M
