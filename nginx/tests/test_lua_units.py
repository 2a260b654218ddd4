"""The small Lua helpers (JSON, decoding) run inside a real nginx, checked from Python."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests
from conftest import NGINX_DIR, RENDER

from hotelbook_chassis.testing import free_port

spec = importlib.util.spec_from_file_location("gateway_render", RENDER)
render = importlib.util.module_from_spec(spec)
sys.modules["gateway_render"] = render  # dataclasses look their module up
spec.loader.exec_module(render)

CONF = """{modules}
pid "{prefix}/nginx.pid";
error_log "{prefix}/error.log" warn;
events {{}}
http {{
    client_body_temp_path "{prefix}";
    client_body_buffer_size 1m;
    access_log off;
    lua_package_path "{lua}/?.lua;;";
    server {{
        listen 127.0.0.1:{port};
        location = /quote {{ content_by_lua_block {{
            ngx.req.read_body()
            ngx.print(require("hotelbook.json").quote(ngx.req.get_body_data() or ""))
        }} }}
        location = /roundtrip {{ content_by_lua_block {{
            local json = require("hotelbook.json")
            ngx.req.read_body()
            local value, err = json.decode(ngx.req.get_body_data() or "")
            if value == nil then ngx.status = 400 ngx.print(err) return end
            ngx.print(json.encode(value))
        }} }}
        location = /normalize {{ content_by_lua_block {{
            ngx.req.read_body()
            ngx.print(require("hotelbook.decode").normalize(ngx.req.get_body_data() or ""))
        }} }}
    }}
}}
"""


@pytest.fixture(scope="module")
def lua(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    prefix = tmp_path_factory.mktemp("lua")
    port = free_port()
    modules = "".join(f'load_module "{m}";\n' for m in render.detect_lua_modules(None))
    (prefix / "nginx.conf").write_text(CONF.format(modules=modules, prefix=prefix, lua=NGINX_DIR / "lua", port=port))
    process = subprocess.Popen(["nginx", "-p", str(prefix), "-c", "nginx.conf", "-g", "daemon off;"],
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(url, timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    yield url
    process.terminate()
    process.wait(10)


TRICKY = ['plain', 'quote " backslash \\ slash /', "tab\tnew\nline\rcr\b\f", "\x00\x01\x1f\x7f",
          "Zoë Ñúñez — «ok» 日本 🏨", "</script><b>&amp;", "line\u2028sep\u2029", ""]


@pytest.mark.parametrize("text", TRICKY)
def test_quote_gives_a_json_string_that_decodes_back(lua, text):
    response = requests.post(f"{lua}/quote", data=text.encode(), timeout=5)
    assert json.loads(response.content) == text
    assert "<" not in response.text and ">" not in response.text  # safe inside HTML too


# lua-cjson decodes an empty array as an empty table (it has no array marker), so
# empty arrays come back as {}: nothing in the gateway re-encodes decoded bodies.
@pytest.mark.parametrize("value", [
    {"a": 1, "b": [1, 2.5, -3e-7, True, False, None], "c": {"d": "é\"\\\u0001"}},
    [1], {}, [[[2]]], "just a string", 12345678901, {"emoji": "\U0001f3e8 via \\ud83c\\udfe8"},
    {"k": "x" * 10000},
])
def test_json_round_trip(lua, value):
    response = requests.post(f"{lua}/roundtrip", data=json.dumps(value).encode(), timeout=5)
    assert response.status_code == 200, response.text
    assert json.loads(response.content) == value


def test_surrogate_pairs_become_utf8(lua):
    response = requests.post(f"{lua}/roundtrip", data=b'["\\ud83c\\udfe8"]', timeout=5)
    assert json.loads(response.content) == ["\U0001f3e8"]


@pytest.mark.parametrize("text", ['{"a":', '{"a" 1}', "[1,]x", '"unterminated', "tru", '{"a":1} trailing'])
def test_bad_json_is_refused(lua, text):
    response = requests.post(f"{lua}/roundtrip", data=text.encode(), timeout=5)
    assert response.status_code == 400
    assert response.text.startswith("json:")


@pytest.mark.parametrize(("raw", "plain"), [
    ("%27", "'"), ("%2527", "'"), ("%252527", "'"), ("%3Cscript%3E", "<script>"),
    ("&lt;script&gt;", "<script>"), ("&#60;&#x3C;&#X3c;", "<<<"), ("&amp;lt;", "<"),
    ("&#37;27", "'"), ("javascript&colon;x", "javascript:x"), ("&#39", "'"),
    ("O'Brien", "O'Brien"), ("Zo%C3%AB", "Zoë"), ("&#233;", "é"), ("&unknown; 100%", "&unknown; 100%"),
])
def test_normalize_decodes_urls_and_entities(lua, raw, plain):
    response = requests.post(f"{lua}/normalize", data=raw.encode(), timeout=5)
    assert response.content.decode() == plain
