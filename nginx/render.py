"""Render the gateway's nginx.conf for the ports in use.

    python nginx/render.py --prefix DIR --listen PORT [--upstream name=host:port ...]
        [--waf-mode block|detect] [--trusted-proxy CIDR ...] [--limits FILE]
        [--routes FILE] [--public-openapi FILE] [--waf-rules FILE] [--lua-module PATH|none]
        [--plain] [--check]
        [--otlp-endpoint http://HOST:PORT] [--trace-ratio 0..1] [--metrics-listen PORT|HOST:PORT]
        [--internal NAME@PORT=host:port,host:port ...] [--limits-redis HOST:PORT]

writes DIR/nginx.conf (and DIR/logs, DIR/tmp) and prints the command that runs it.
Everything nginx writes (pid, logs, temp files) stays inside DIR, so no root is
needed. The Lua code, the public routes, the WAF rules and the rate limits are
read in place from this folder, not copied. Plain Python, standard library only.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import crs as crs_compiler  # noqa: E402  (the CRS compiler beside this file)

# The system's topology (ports, gateway prefixes, timeouts): one file, read in place.
TOPOLOGY = HERE.parent / "chassis" / "src" / "hotelbook_chassis" / "topology.toml"
_topology = tomllib.loads(TOPOLOGY.read_text())
_routed = {name: entry for name, entry in _topology["services"].items() if "gateway" in entry}

# name -> (default port, public prefixes, prefix stripped before proxying)
ROUTES: dict[str, tuple[int, tuple[str, ...], bool]] = {
    name: (entry["port"], tuple(entry["gateway"]["prefixes"]), entry["gateway"]["strip"])
    for name, entry in _routed.items()
}

# Upstream read timeouts (seconds): the default, and the routes that wait longer (payments waits
# on the bank; booking-ui's pay form waits on payments), each above what its upstream may take.
READ_TIMEOUT: int = _topology["gateway"]["read_timeout"]
SLOW_READ_TIMEOUTS: dict[str, int] = {
    name: entry["gateway"]["read_timeout"] for name, entry in _routed.items() if "read_timeout" in entry["gateway"]
}

LUA_MODULE_CANDIDATES = (
    "/usr/share/nginx/modules/ngx_http_lua_module.so",  # Debian / Ubuntu
    "/usr/lib/nginx/modules/ngx_http_lua_module.so",
    "/usr/lib64/nginx/modules/ngx_http_lua_module.so",  # Fedora / RHEL
    "/etc/nginx/modules/ngx_http_lua_module.so",  # Alpine
)

SANE_REQUEST_ID = r"^[A-Za-z0-9._:@/+=-]{1,128}$"

# Where the gateway publishes the one OpenAPI document of the public operations
# (written by public_openapi.py, served from --public-openapi).
PUBLIC_OPENAPI_PATH = "/api/openapi.json"

ERROR_STATUSES = (400, 403, 404, 405, 408, 413, 414, 429, 494, 500, 502, 503, 504)


@dataclass
class Options:
    prefix: Path
    listen: str
    upstreams: dict[str, list[str]]
    waf_mode: str = "block"
    trusted_proxies: list[str] = field(default_factory=list)
    limits: Path = HERE / "limits.json"
    routes: Path = HERE / "routes.json"
    public_openapi: Path | None = None
    waf_rules: Path = HERE / "waf_rules.json"
    lua_modules: list[str] = field(default_factory=list)
    plain: bool = False
    workers: str = "auto"
    max_body: str = "1m"
    read_timeout: int = READ_TIMEOUT
    crs: bool = True
    crs_dir: Path = crs_compiler.CRS_DIR
    paranoia_level: int = 1
    anomaly_threshold: int = 5
    # Tracing (nginx/lua/hotelbook/trace.lua): where the gateway's spans go, and
    # the share of new traces that are sampled.
    otlp_endpoint: str = ""
    trace_ratio: float = 1.0
    # Internal listener of /metrics (nginx/lua/hotelbook/metrics.lua); none when empty.
    metrics_listen: str = ""
    # Service addresses: name -> (listen, instance addresses). A plain listener per service
    # that its peers call, balanced over its instances (what a Kubernetes Service does).
    internal: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    # Redis holding the rate limit counters of every gateway instance (see ratelimit.lua);
    # empty: this nginx's shared dict, a limit per gateway instance.
    limits_redis: str = ""


class RenderError(Exception):
    pass


# --- helpers -------------------------------------------------------------------------


def nginx_str(value: str | Path) -> str:
    """A double-quoted nginx string; `$` would start a variable, so it is refused."""
    text = str(value)
    if "$" in text or "\n" in text:
        raise RenderError(f"unsupported character in {text!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lua_str(value: str | Path) -> str:
    """A Lua string literal (also valid inside an nginx *_by_lua_block)."""
    return json.dumps(str(value))


def parse_listen(value: str) -> str:
    """`8080` -> `127.0.0.1:8080` (local by default); `0.0.0.0:8080` or `[::]:8080` as given."""
    if value.isdigit():
        return f"127.0.0.1:{int(value)}"
    if re.fullmatch(r"(\[[0-9a-fA-F:]+\]|[\w.-]+):\d{1,5}", value):
        return value
    raise RenderError(f"--listen: expected PORT or HOST:PORT, got {value!r}")


def parse_upstreams(items: list[str]) -> dict[str, list[str]]:
    """Defaults from the ports table; a name given several times gets several servers."""
    upstreams = {name: [f"127.0.0.1:{port}"] for name, (port, _, _) in ROUTES.items()}
    given: set[str] = set()
    for item in items:
        name, sep, address = item.partition("=")
        if not sep or name not in ROUTES:
            raise RenderError(f"--upstream: expected one of {', '.join(ROUTES)}=host:port, got {item!r}")
        if not re.fullmatch(r"(\[[0-9a-fA-F:]+\]|[\w.-]+):\d{1,5}|unix:/[\w./-]+", address):
            raise RenderError(f"--upstream {name}: bad address {address!r}")
        upstreams[name] = [*upstreams[name], address] if name in given else [address]
        given.add(name)
    return upstreams


def parse_internal(items: list[str]) -> dict[str, tuple[str, list[str]]]:
    """``NAME@PORT=host:port,host:port``: a service address and the instances behind it."""
    internal: dict[str, tuple[str, list[str]]] = {}
    for item in items:
        match = re.fullmatch(r"([a-z][a-z0-9-]{0,40})@([^=]+)=(.+)", item)
        if not match or match.group(1) in internal:
            raise RenderError(f"--internal: expected NAME@PORT=host:port[,host:port...] once per name, got {item!r}")
        addresses = match.group(3).split(",")
        for address in addresses:
            if not re.fullmatch(r"(\[[0-9a-fA-F:]+\]|[\w.-]+):\d{1,5}", address):
                raise RenderError(f"--internal {match.group(1)}: bad address {address!r}")
        internal[match.group(1)] = (parse_listen(match.group(2)), addresses)
    return internal


def parse_cidrs(items: list[str]) -> list[str]:
    try:
        return [str(ipaddress.ip_network(item, strict=False)) for item in items]
    except ValueError as error:
        raise RenderError(f"--trusted-proxy: {error}") from error


def nginx_version_info(nginx: str = "nginx") -> str:
    try:
        result = subprocess.run([nginx, "-V"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout + result.stderr


def detect_lua_modules(choice: str | None) -> list[str]:
    """The `load_module` lines needed: none for OpenResty (Lua is built in); the Lua
    module, preceded by the NDK module next to it when present (Debian's needs it)."""
    if choice == "none":
        return []
    if choice:
        module = Path(choice)
    else:
        info = nginx_version_info()
        if "openresty" in info.lower() or "lua-nginx-module" in info:
            return []
        found = [Path(p) for p in LUA_MODULE_CANDIDATES if Path(p).exists()]
        match = re.search(r"--modules-path=(\S+)", info)
        if match and (Path(match.group(1)) / "ngx_http_lua_module.so").exists():
            found.append(Path(match.group(1)) / "ngx_http_lua_module.so")
        module = found[0] if found else Path(LUA_MODULE_CANDIDATES[0])
        if not found:
            print(f"warning: no ngx_http_lua_module.so found, assuming {module}", file=sys.stderr)
    ndk = module.parent / "ndk_http_module.so"
    return ([str(ndk)] if ndk.exists() else []) + [str(module)]


def check_data_files(limits: Path, rules: Path) -> None:
    """Fail early, with a clear message, on files the Lua side would refuse."""
    for path in (limits, rules):
        if not path.is_file():
            raise RenderError(f"{path}: not found")
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise RenderError(f"{path}: not valid JSON: {error}") from error
    data = json.loads(limits.read_text(encoding="utf-8"))
    policies = data.get("policies") or {}
    for route in data.get("routes") or []:
        if route.get("policy") not in policies:
            raise RenderError(f"{limits}: route {route} names an unknown policy")
    for rule in json.loads(rules.read_text(encoding="utf-8")).get("rules") or []:
        pattern = rule.get("pattern") or ""
        # The rules of one target are OR-ed into one pattern: numbered
        # back-references would point into other rules' groups.
        if re.search(r"\\[1-9]|\(\?P?=", pattern):
            raise RenderError(f"{rules}: rule {rule.get('id')}: back-references are not allowed")


def check_routes(path: Path) -> None:
    """The allow-list names known services under their gateway prefixes (routes.json)."""
    if not path.is_file():
        raise RenderError(f"{path}: not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise RenderError(f"{path}: not valid JSON: {error}") from error
    for name, entry in (data.get("services") or {}).items():
        if name not in ROUTES:
            raise RenderError(f"{path}: unknown service {name!r}")
        _, prefixes, strip = ROUTES[name]
        prefix = entry.get("prefix", "")
        # Stripped services are written under their gateway prefix; the others
        # see the public path unchanged and must own it.
        expected = prefixes[0].rstrip("/") if strip else ""
        if prefix != expected:
            raise RenderError(f"{path}: {name}: prefix must be {expected!r}, not {prefix!r}")
        for op in entry.get("operations") or []:
            pattern = str(op.get("path", ""))
            if not op.get("methods") or not re.fullmatch(r"/|(/([\w.~-]+|\{\w+\+?\}))+", pattern):
                raise RenderError(f"{path}: {name}: operation {op} needs methods and a path pattern")
            if not strip and not any(pattern.startswith(p) for p in prefixes):
                raise RenderError(f"{path}: {name}: {pattern} is not routed to {name}")


# --- the configuration -----------------------------------------------------------


def upstream_blocks(upstreams: dict[str, list[str]], prefix: str = "") -> str:
    blocks = []
    for name, addresses in upstreams.items():
        # Several instances: one that fails is left out for a few seconds (passive
        # health check) while the others take its requests.
        health = "max_fails=1 fail_timeout=5s" if len(addresses) > 1 else "max_fails=0"
        servers = "".join(f"        server {address} {health};\n" for address in addresses)
        blocks.append(
            f"    upstream {prefix}{upstream_id(name)} {{\n"
            f"{servers}"
            f"        keepalive 32;\n"
            f"        keepalive_timeout 60s;\n"
            f"    }}\n"
        )
    return "".join(blocks)


# Internal calls may carry a PDF's data or wait on the bank: room for both.
INTERNAL_READ_TIMEOUT = 60
INTERNAL_MAX_BODY = "10m"


def internal_blocks(options: Options) -> str:
    """The service addresses: a plain listener per service, no Lua, no public allow-list
    (peers reach every internal path, as on the instances' own ports), balanced over the
    instances with the public upstreams' failover rules."""
    if not options.internal:
        return ""
    out = [upstream_blocks({name: addresses for name, (_, addresses) in options.internal.items()},
                           prefix="internal_")]
    for name, (listen, _) in options.internal.items():
        out.append(f"""
    # {name}: the address its peers call; the instances behind it fail over as below.
    server {{
        listen {listen};
        server_name _;
        access_log off;
        client_max_body_size {INTERNAL_MAX_BODY};
        client_body_buffer_size {INTERNAL_MAX_BODY};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_connect_timeout 3s;
        proxy_send_timeout 20s;
        proxy_read_timeout {INTERNAL_READ_TIMEOUT}s;
        proxy_next_upstream error timeout;
        proxy_next_upstream_tries 3;
        location / {{
            proxy_pass http://internal_{upstream_id(name)};
        }}
    }}
""")
    return "".join(out)


def worker_user() -> str:
    """`nobody` and its group (`nogroup` on Debian, `nobody` elsewhere)."""
    import grp

    for group in ("nogroup", "nobody"):
        try:
            grp.getgrnam(group)
        except KeyError:
            continue
        return f"nobody {group}"
    return "nobody"


def upstream_id(name: str) -> str:
    return name.replace("-", "_")


def location_blocks(options: Options) -> str:
    out = []
    for name, (_, prefixes, strip) in ROUTES.items():
        for prefix in prefixes:
            # Always a URI part: nginx then sends its normalised path (the one the
            # allow-list checked), never the client's raw spelling of it.
            target = f"http://{upstream_id(name)}" + ("/" if strip else prefix)
            extra = ""
            if name in SLOW_READ_TIMEOUTS:
                slow = max(SLOW_READ_TIMEOUTS[name], options.read_timeout)
                extra = f"            proxy_read_timeout {slow}s;\n"
            out.append(f"        location {prefix} {{\n            proxy_pass {target};\n{extra}        }}\n")
    if options.public_openapi is not None and not options.plain:
        # Read by the master at start-up and reload (workers may not reach the file).
        out.append(f"        location = {PUBLIC_OPENAPI_PATH} {{\n"
                   f"            content_by_lua_block {{ require(\"hotelbook.gateway\").public_openapi() }}\n"
                   f"        }}\n")
    # Any other /api/<name>/ is no service of ours.
    out.append("        location /api/ {\n            return 404;\n        }\n")
    out.append("        location = /api {\n            return 404;\n        }\n")
    return "".join(out)


LOG_FIELDS_COMMON = (
    '"time":"$time_iso8601",'
    '"request_id":"$hb_request_id",'
    '"remote_addr":"$remote_addr",'
    '"method":"$request_method",'
    '"path":"$hb_log_path",'
    '"status":$status,'
    '"bytes_sent":$bytes_sent,'
    '"request_time":$request_time,'
    '"upstream":"$upstream_addr",'
    '"upstream_status":"$upstream_status",'
    '"upstream_time":"$upstream_response_time",'
    '"user_agent":"$http_user_agent"'
)
LOG_FIELDS_LUA = (
    ',"query_names":"$hb_query_names",'
    '"waf_rule":"$hb_waf_rule",'
    '"waf_action":"$hb_waf_action",'
    '"ratelimit_policy":"$hb_rl_policy",'
    '"ratelimit":"$hb_rl",'
    '"ratelimit_remaining":"$hb_rl_remaining",'
    '"waf_score":"$hb_waf_score",'
    '"trace_id":"$hb_trace_id"'
)


def render(options: Options) -> str:
    prefix = options.prefix
    lua = not options.plain
    lines: list[str] = ["# Rendered by nginx/render.py: edit the template there, not this file.\n"]
    if lua:
        lines += [f"load_module {nginx_str(m)};\n" for m in options.lua_modules]
    if os.geteuid() == 0:
        # Started by root (containers): the workers, which parse what clients send,
        # give root up. They need no file of the prefix: the master opens the logs and
        # reads the Lua side's data, bodies stay in memory, answers are not spooled.
        lines.append(f"user {worker_user()};\n")
    lines.append(f"""worker_processes {options.workers};
# the maps' regexes (log path, request id, trace context) compiled to machine code
pcre_jit on;
pid {nginx_str(prefix / "logs" / "nginx.pid")};
error_log {nginx_str(prefix / "logs" / "error.log")} warn;

events {{
    worker_connections 4096;
}}

http {{
    default_type application/octet-stream;
    server_tokens off;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 65s;
    keepalive_requests 10000;

    client_body_temp_path {nginx_str(prefix / "tmp" / "client_body")};
    proxy_temp_path {nginx_str(prefix / "tmp" / "proxy")};
    fastcgi_temp_path {nginx_str(prefix / "tmp" / "fastcgi")};
    uwsgi_temp_path {nginx_str(prefix / "tmp" / "uwsgi")};
    scgi_temp_path {nginx_str(prefix / "tmp" / "scgi")};

    # Answers stream through memory buffers, never a temp file the workers
    # (not root) might not be allowed to write.
    proxy_max_temp_file_size 0;

    client_max_body_size {options.max_body};
    # Bodies up to the maximum stay in memory, where the WAF reads them.
    client_body_buffer_size {options.max_body};
    client_header_timeout 10s;
    client_body_timeout 15s;
    send_timeout 30s;
    # Room for long headers to reach the WAF's size rules (and a clean 403).
    large_client_header_buffers 4 16k;

    # The access log gets the path without the query: query values can be secrets
    # (password-reset and e-mail tokens); the Lua side logs the parameter names.
    map $request_uri $hb_log_path {{
        "~^(?<hb_path>[^?]*)" $hb_path;
    }}

    # The client's request id when it is sane, a fresh one otherwise.
    map $http_x_request_id $hb_request_id {{
        "~{SANE_REQUEST_ID}" $http_x_request_id;
        default $request_id;
    }}
""")
    if options.trusted_proxies:
        lines.append("    # Only these proxies may say who the client is (X-Forwarded-For).\n")
        lines += [f"    set_real_ip_from {cidr};\n" for cidr in options.trusted_proxies]
        lines.append("    real_ip_header X-Forwarded-For;\n    real_ip_recursive on;\n")
        lines.append('    map $http_x_forwarded_for $hb_forwarded_for {\n'
                     '        "" $realip_remote_addr;\n'
                     '        default "$http_x_forwarded_for, $realip_remote_addr";\n    }\n')
    log_format = LOG_FIELDS_COMMON + (LOG_FIELDS_LUA if lua else "")
    lines.append(f"""
    log_format hotelbook_json escape=json '{{{log_format}}}';
    access_log {nginx_str(prefix / "logs" / "access.log")} hotelbook_json;
""")
    if lua:
        init = lua_init_options(options)
        lines.append(f"""
    lua_package_path {nginx_str(str(HERE / "lua" / "?.lua") + ";;")};
    lua_shared_dict hb_ratelimit 16m;
    # every CRS regex stays compiled (JIT) in each worker
    lua_regex_cache_max_entries 8192;
    lua_shared_dict hb_metrics 1m;
    init_by_lua_block {{
        require("hotelbook.gateway").init({{ {init} }})
        require("hotelbook.trace").init({{ {lua_trace_options(options)} }})
    }}
    init_worker_by_lua_block {{ require("hotelbook.trace").init_worker() }}
""")
        lines.append(trace_maps(options))
    lines.append("\n" + upstream_blocks(options.upstreams))
    lines.append(internal_blocks(options))
    # A client's own X-Forwarded-For is passed on only when it came through a
    # trusted proxy; otherwise the services see just the address nginx saw.
    # ($proxy_add_x_forwarded_for would append the address realip found, not the peer's.)
    forwarded_for = "$hb_forwarded_for" if options.trusted_proxies else "$remote_addr"
    # The gateway's span is the parent of the service's (trace_maps()).
    traceparent = ('        proxy_set_header traceparent "00-$hb_trace_id-$hb_span_id-$hb_trace_flags";\n'
                   if lua else "")
    lines.append(f"""
    server {{
        listen {options.listen} reuseport;
        server_name _;

        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Request-ID $hb_request_id;
{traceparent}        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For {forwarded_for};
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $http_host;
        proxy_connect_timeout 3s;
        proxy_send_timeout 20s;
        proxy_read_timeout {options.read_timeout}s;
        # Another instance gets the request when this one refused or timed out; a
        # POST or PATCH only if it was never sent (nginx's default, the non-idempotent
        # flag left out): never twice. A request cut after it was sent is answered 503
        # (gateway.lua), which the client may retry.
        proxy_next_upstream error timeout;
        proxy_next_upstream_tries 3;

        # The services echo the request id too: one copy, the gateway's.
        proxy_hide_header X-Request-ID;
        add_header X-Request-ID $hb_request_id always;
""")
    if lua:
        lines.append(f"""
        # Filled by the Lua access handler (empty values send no header).
        set $hb_rl "";
        set $hb_rl_policy "";
        set $hb_rl_limit "";
        set $hb_rl_remaining "";
        set $hb_rl_reset "";
        set $hb_waf_rule "";
        set $hb_waf_action "";
        set $hb_query_names "";
        set $hb_waf_score "";
        proxy_hide_header RateLimit-Limit;
        proxy_hide_header RateLimit-Remaining;
        proxy_hide_header RateLimit-Reset;
        add_header RateLimit-Limit $hb_rl_limit always;
        add_header RateLimit-Remaining $hb_rl_remaining always;
        add_header RateLimit-Reset $hb_rl_reset always;

        # Answers nginx makes itself become problem+json. A request line nginx refuses
        # (a path above the root, /static/../../x) has no URI, and a named location
        # cannot be entered without one: its 400 goes through an internal URI instead.
        error_page {" ".join(str(s) for s in ERROR_STATUSES if s != 400)} @problem;
        error_page 400 /.hb-problem/400;
        location @problem {{
            access_by_lua_block {{ return }}
            content_by_lua_block {{ require("hotelbook.gateway").problem() }}
        }}
        location = /.hb-problem/400 {{
            internal;
            access_by_lua_block {{ return }}
            content_by_lua_block {{ require("hotelbook.gateway").problem() }}
        }}

        access_by_lua_block {{ require("hotelbook.gateway").access() }}
""")
        # The log phase runs Lua only for what is configured (spans to export, counters to serve).
        after = (["require(\"hotelbook.trace\").finish()"] if options.otlp_endpoint else []) + \
            (["require(\"hotelbook.metrics\").count()"] if options.metrics_listen else [])
        if after:
            lines.append(f"        log_by_lua_block {{ {' '.join(after)} }}\n")
    lines.append("\n" + location_blocks(options))
    lines.append("    }\n")
    if lua and options.metrics_listen:
        lines.append(f"""
    # Prometheus scrapes the gateway's counters here; the public listener has no such path.
    server {{
        listen {options.metrics_listen};
        access_log off;
        location = /metrics {{
            content_by_lua_block {{ require("hotelbook.metrics").serve() }}
        }}
        location / {{
            return 404;
        }}
    }}
""")
    lines.append("}\n")
    return "".join(lines)


def crs_file(options: Options) -> Path:
    return options.prefix / "crs-rules.json"


def compile_crs(options: Options) -> list[dict[str, object]]:
    """The OWASP Core Rule Set, compiled for the Lua engine into the prefix; returns
    the rules it could not express (render.py lists them)."""
    setup = {"paranoia_level": options.paranoia_level,
             "inbound_anomaly_score_threshold": options.anomaly_threshold}
    try:
        data = crs_compiler.compile_crs(options.crs_dir, setup)
    except (crs_compiler.CompileError, OSError) as error:
        raise RenderError(f"OWASP CRS: {error}") from error
    crs_file(options).write_text(json.dumps(data), encoding="utf-8")
    return data["unsupported"]


def write(options: Options) -> Path:
    for sub in ("logs", "tmp"):
        (options.prefix / sub).mkdir(parents=True, exist_ok=True)
    if options.crs and not options.plain:
        unsupported = compile_crs(options)
        if unsupported:
            ids = ", ".join(str(item["id"]) for item in unsupported)
            print(f"render.py: OWASP CRS rules not supported by the Lua engine (not applied): {ids}",
                  file=sys.stderr)
    conf = options.prefix / "nginx.conf"
    conf.write_text(render(options), encoding="utf-8")
    return conf


def run_command(prefix: Path) -> list[str]:
    return ["nginx", "-p", str(prefix), "-c", "nginx.conf", "-g", "daemon off;"]


def lua_init_options(options: Options) -> str:
    return ", ".join([
        f"limits = {lua_str(options.limits)}",
        f"routes = {lua_str(options.routes)}",
        f"own_paths = {{ {lua_str(PUBLIC_OPENAPI_PATH)} }}" if options.public_openapi else "own_paths = {}",
        f"public_openapi = {lua_str(options.public_openapi)}" if options.public_openapi else "public_openapi = nil",
        f"rules = {lua_str(options.waf_rules)}",
        f"waf_mode = {lua_str(options.waf_mode)}",
        f"crs = {lua_str(crs_file(options) if options.crs else '')}",
        f"limits_redis = {lua_str(options.limits_redis)}",
    ])


# A traceparent the gateway continues: version 00, lower-case hex, neither id all zeros.
TRACEPARENT_ZERO_ID = "~^00-(?:0{32}-|[0-9a-f]{32}-0{16}-)"
TRACEPARENT_VALID = "~^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$"


def trace_maps(options: Options) -> str:
    """W3C trace context at the edge, worked out by nginx itself (no Lua per request).

    A valid incoming traceparent is continued: same trace, same sampling flag. Anything
    else starts a trace whose id is $request_id (16 random bytes), marked sampled for
    --trace-ratio of new traces. The gateway's own span id is the first 8 bytes of
    $request_id. trace.lua exports the span from these variables when an OTLP
    endpoint is set."""
    percent = options.trace_ratio * 100
    if percent >= 99.995:
        new_flags = '    map $request_id $hb_new_trace_flags {\n        default "01";\n    }\n'
    elif percent < 0.005:
        new_flags = '    map $request_id $hb_new_trace_flags {\n        default "00";\n    }\n'
    else:
        new_flags = (f'    split_clients "$request_id" $hb_new_trace_flags {{\n'
                     f'        {percent:.2f}% "01";\n        * "00";\n    }}\n')
    return f"""
    # W3C trace context (render.py, trace_maps): continued when valid, else a new trace.
{new_flags}    map $http_traceparent $hb_trace_id {{
        "{TRACEPARENT_ZERO_ID}" $request_id;
        "{TRACEPARENT_VALID}" $1;
        default $request_id;
    }}
    map $http_traceparent $hb_trace_parent {{
        "{TRACEPARENT_ZERO_ID}" "";
        "{TRACEPARENT_VALID}" $2;
        default "";
    }}
    map $http_traceparent $hb_trace_flags {{
        "{TRACEPARENT_ZERO_ID}" $hb_new_trace_flags;
        "{TRACEPARENT_VALID}" $3;
        default $hb_new_trace_flags;
    }}
    map $request_id $hb_span_id {{
        "~^([0-9a-f]{{16}})" $1;
    }}
"""


def lua_trace_options(options: Options) -> str:
    return f"endpoint = {lua_str(options.otlp_endpoint)}, ratio = {options.trace_ratio!r}"


def lua_check_conf(options: Options) -> str:
    """A configuration that only loads the Lua side and exits: `nginx -t` does not
    run init_by_lua, so bad rules or limits would otherwise pass the check."""
    modules = "".join(f"load_module {nginx_str(m)};\n" for m in options.lua_modules)
    return f"""{modules}pid {nginx_str(options.prefix / "logs" / "check.pid")};
error_log stderr warn;
events {{}}
http {{
    lua_package_path {nginx_str(str(HERE / "lua" / "?.lua") + ";;")};
    lua_shared_dict hb_ratelimit 1m;
    init_by_lua_block {{
        local ok, err = pcall(require("hotelbook.gateway").init, {{ {lua_init_options(options)} }})
        if ok then
            ok, err = pcall(require("hotelbook.trace").init, {{ {lua_trace_options(options)} }})
        end
        if not ok then
            io.stderr:write("lua check failed: ", tostring(err), "\\n")
            os.exit(1)
        end
        io.stderr:write("lua check: limits and WAF rules loaded\\n")
        os.exit(0)
    }}
}}
"""


def check(options: Options) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on the result, then the Lua start-up on the same files."""
    nginx = shutil.which("nginx") or "nginx"
    prefix = options.prefix
    result = subprocess.run([nginx, "-t", "-p", str(prefix), "-c", "nginx.conf"],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0 or options.plain:
        return result
    (prefix / "check-lua.conf").write_text(lua_check_conf(options), encoding="utf-8")
    lua = subprocess.run([nginx, "-p", str(prefix), "-c", "check-lua.conf", "-g", "daemon off; master_process off;"],
                         capture_output=True, text=True, check=False, timeout=30)
    return subprocess.CompletedProcess(lua.args, lua.returncode, result.stdout + lua.stdout,
                                       result.stderr + lua.stderr)


def parse_args(argv: list[str] | None = None) -> tuple[Options, bool]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", required=True, type=Path, help="folder for nginx.conf, logs/ and tmp/")
    parser.add_argument("--listen", required=True, help="PORT (on 127.0.0.1) or HOST:PORT")
    parser.add_argument("--upstream", action="append", default=[], metavar="NAME=HOST:PORT",
                        help=f"one of {', '.join(ROUTES)}; defaults to the ports table; "
                             "repeat a name for several instances")
    parser.add_argument("--waf-mode", choices=("block", "detect"), default="block")
    parser.add_argument("--trusted-proxy", action="append", default=[], metavar="CIDR",
                        help="proxies whose X-Forwarded-For is believed (none by default)")
    parser.add_argument("--limits", type=Path, default=HERE / "limits.json", help="rate limit policies (JSON)")
    parser.add_argument("--routes", type=Path, default=HERE / "routes.json",
                        help="the allow-list of public operations (JSON)")
    parser.add_argument("--public-openapi", type=Path, metavar="FILE",
                        help=f"serve this file (written by public_openapi.py) at {PUBLIC_OPENAPI_PATH}")
    parser.add_argument("--waf-rules", type=Path, default=HERE / "waf_rules.json", help="WAF rules (JSON)")
    parser.add_argument("--lua-module", help="path of ngx_http_lua_module.so, or `none` when built in "
                                             "(default: detected)")
    parser.add_argument("--plain", action="store_true", help="routing only: no Lua, no limits, no WAF")
    parser.add_argument("--workers", default="auto", help="worker_processes (default auto)")
    parser.add_argument("--client-max-body-size", default="1m")
    parser.add_argument("--read-timeout", type=int, default=READ_TIMEOUT,
                        help=f"upstream read timeout in seconds (default {READ_TIMEOUT}; "
                             + ", ".join(f"{name} at least {seconds}" for name, seconds in SLOW_READ_TIMEOUTS.items())
                             + ")")
    parser.add_argument("--no-crs", action="store_true", help="only our own rules (waf_rules.json)")
    parser.add_argument("--crs-dir", type=Path, default=crs_compiler.CRS_DIR,
                        help="the Core Rule Set's rules folder (default: Debian's modsecurity-crs)")
    parser.add_argument("--paranoia-level", type=int, choices=(1, 2, 3, 4), default=1,
                        help="CRS paranoia level (default 1)")
    parser.add_argument("--anomaly-threshold", type=int, default=5,
                        help="CRS inbound anomaly score that blocks (default 5)")
    parser.add_argument("--otlp-endpoint", default="",
                        help="send the gateway's spans here as OTLP/HTTP JSON (http://HOST:PORT; default: none)")
    parser.add_argument("--trace-ratio", type=float, default=1.0,
                        help="share of new traces marked sampled (0..1, default 1)")
    parser.add_argument("--metrics-listen", default="",
                        help="serve the gateway's counters at /metrics on this PORT (127.0.0.1) or HOST:PORT")
    parser.add_argument("--internal", action="append", default=[], metavar="NAME@PORT=HOST:PORT,...",
                        help="a service address: a plain listener on PORT balanced over the instances "
                             "(what peers call when a service runs as several instances)")
    parser.add_argument("--limits-redis", default="", metavar="HOST:PORT",
                        help="keep the rate limit counters in this Redis, shared by every gateway instance "
                             "naming it (default: per nginx, in its shared dict)")
    parser.add_argument("--check", action="store_true", help="run `nginx -t` on the result")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"auto|\d{1,3}", args.workers):
        parser.error("--workers: auto or a number")
    if not re.fullmatch(r"\d{1,6}[kKmM]?", args.client_max_body_size):
        parser.error("--client-max-body-size: a size such as 1m")
    if not 1 <= args.read_timeout <= 3600:
        parser.error("--read-timeout: 1 to 3600 seconds")
    if not 0 <= args.trace_ratio <= 1:
        parser.error("--trace-ratio: between 0 and 1")
    if args.limits_redis and not re.fullmatch(r"[\w.-]+:\d{1,5}", args.limits_redis):
        parser.error("--limits-redis: HOST:PORT")
    if args.otlp_endpoint and not re.fullmatch(r"http://[\w.-]+:\d{1,5}(/[\w./-]*)?", args.otlp_endpoint):
        parser.error("--otlp-endpoint: http://HOST:PORT")
    try:
        options = Options(
            prefix=args.prefix.resolve(),
            listen=parse_listen(args.listen),
            upstreams=parse_upstreams(args.upstream),
            waf_mode=args.waf_mode,
            trusted_proxies=parse_cidrs(args.trusted_proxy),
            limits=args.limits.resolve(),
            routes=args.routes.resolve(),
            public_openapi=args.public_openapi.resolve() if args.public_openapi else None,
            waf_rules=args.waf_rules.resolve(),
            lua_modules=[] if args.plain else detect_lua_modules(args.lua_module),
            plain=args.plain,
            workers=args.workers,
            max_body=args.client_max_body_size,
            read_timeout=args.read_timeout,
            crs=not args.no_crs,
            crs_dir=args.crs_dir,
            paranoia_level=args.paranoia_level,
            anomaly_threshold=args.anomaly_threshold,
            otlp_endpoint=args.otlp_endpoint.rstrip("/"),
            metrics_listen=parse_listen(args.metrics_listen) if args.metrics_listen else "",
            trace_ratio=args.trace_ratio,
            internal=parse_internal(args.internal),
            limits_redis=args.limits_redis,
        )
        if not options.plain:
            check_data_files(options.limits, options.waf_rules)
            check_routes(options.routes)
    except RenderError as error:
        parser.error(str(error))
    return options, args.check


def main(argv: list[str] | None = None) -> int:
    options, want_check = parse_args(argv)
    try:
        write(options)
    except RenderError as error:
        print(f"render.py: {error}", file=sys.stderr)
        return 2
    if want_check:
        result = check(options)
        sys.stderr.write(result.stderr)
        if result.returncode != 0:
            return result.returncode
    print(shlex.join(run_command(options.prefix)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
