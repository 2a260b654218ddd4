"""render.py: the command line, the files it writes, and `nginx -t` on the result."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import NGINX_DIR, RENDER, render


def test_renders_a_config_that_nginx_accepts(tmp_path, upstreams):
    result = render(tmp_path / "gw", 18080, upstreams, check=True)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    assert "lua check: limits and WAF rules loaded" in result.stderr
    prefix = (tmp_path / "gw").resolve()
    assert result.stdout.strip() == f"nginx -p {prefix} -c nginx.conf -g 'daemon off;'"
    assert (prefix / "logs").is_dir()
    assert (prefix / "tmp").is_dir()


def test_everything_nginx_writes_stays_in_the_prefix(tmp_path, upstreams):
    render(tmp_path / "gw", 18080, upstreams)
    conf = (tmp_path / "gw" / "nginx.conf").read_text()
    prefix = str((tmp_path / "gw").resolve())
    for directive in ("pid", "error_log", "access_log", "client_body_temp_path", "proxy_temp_path",
                      "fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path"):
        lines = [line.strip() for line in conf.splitlines() if line.strip().startswith(directive + " ")]
        assert lines, directive
        assert all(f'"{prefix}/' in line for line in lines), lines


def test_lua_code_and_data_are_read_in_place(tmp_path, upstreams):
    render(tmp_path / "gw", 18080, upstreams)
    conf = (tmp_path / "gw" / "nginx.conf").read_text()
    assert f'lua_package_path "{NGINX_DIR}/lua/?.lua;;"' in conf
    assert json.dumps(str(NGINX_DIR / "waf_rules.json")) in conf
    assert json.dumps(str(NGINX_DIR / "limits.json")) in conf
    # the one file written beside nginx.conf: the Core Rule Set compiled at render time
    assert sorted(p.name for p in (tmp_path / "gw").iterdir()) == ["crs-rules.json", "logs", "nginx.conf", "tmp"]


def test_default_upstreams_follow_the_ports_table(tmp_path):
    result = subprocess.run([sys.executable, str(RENDER), "--prefix", str(tmp_path), "--listen", "8080"],
                            capture_output=True, text=True, check=True)
    assert result.stdout.startswith("nginx -p ")
    conf = (tmp_path / "nginx.conf").read_text()
    for name, port in [("booking_ui", 8100), ("search", 8101), ("reservations", 8102), ("payments", 8103),
                       ("users", 8104), ("auth", 8105)]:
        assert f"upstream {name} {{\n        server 127.0.0.1:{port} max_fails=0;\n        keepalive 32;" in conf
    assert "listen 127.0.0.1:8080" in conf
    payments = "location /api/payments/ {\n            proxy_pass http://payments/;\n            proxy_read_timeout 45s"
    assert payments in conf


def test_lua_module_is_detected_or_given(tmp_path, upstreams):
    render(tmp_path / "a", 18080, upstreams)
    detected = (tmp_path / "a" / "nginx.conf").read_text()
    assert "ngx_http_lua_module.so" in detected or "load_module" not in detected  # OpenResty: built in
    render(tmp_path / "b", 18080, upstreams, "--lua-module", "/opt/custom/ngx_http_lua_module.so")
    given = (tmp_path / "b" / "nginx.conf").read_text()
    assert 'load_module "/opt/custom/ngx_http_lua_module.so";' in given
    render(tmp_path / "c", 18080, upstreams, "--lua-module", "none")
    assert "load_module" not in (tmp_path / "c" / "nginx.conf").read_text()


def test_detect_mode_and_trusted_proxies_are_rendered(tmp_path, upstreams):
    result = render(tmp_path / "gw", 18080, upstreams, "--waf-mode", "detect", "--trusted-proxy", "10.0.0.0/8",
                    "--trusted-proxy", "192.168.1.7", check=True)
    assert result.returncode == 0, result.stderr
    conf = (tmp_path / "gw" / "nginx.conf").read_text()
    assert 'waf_mode = "detect"' in conf
    assert "set_real_ip_from 10.0.0.0/8;" in conf
    assert "set_real_ip_from 192.168.1.7/32;" in conf
    assert "real_ip_header X-Forwarded-For;" in conf


def test_no_proxy_is_trusted_by_default(tmp_path, upstreams):
    render(tmp_path / "gw", 18080, upstreams)
    assert "set_real_ip_from" not in (tmp_path / "gw" / "nginx.conf").read_text()


def test_plain_mode_has_no_lua(tmp_path, upstreams):
    result = render(tmp_path / "gw", 18080, upstreams, "--plain", check=True)
    assert result.returncode == 0, result.stderr
    conf = (tmp_path / "gw" / "nginx.conf").read_text()
    assert "_by_lua" not in conf
    assert "load_module" not in conf
    assert "lua_package_path" not in conf
    assert "proxy_pass http://search/;" in conf


def test_bad_rules_fail_the_check(tmp_path, upstreams):
    rules = json.loads((NGINX_DIR / "waf_rules.json").read_text())
    rules["rules"][0]["pattern"] = "(unclosed"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(rules))
    result = render(tmp_path / "gw", 18080, upstreams, "--waf-rules", str(bad), check=True)
    assert result.returncode != 0
    assert "bad pattern" in result.stderr


def test_bad_limits_fail_the_check(tmp_path, upstreams):
    bad = tmp_path / "limits.json"
    bad.write_text(json.dumps({"policies": {"api": {"limit": 0, "window": 60}},
                               "routes": [{"prefix": "/", "policy": "api"}]}))
    result = render(tmp_path / "gw", 18080, upstreams, "--limits", str(bad), check=True)
    assert result.returncode != 0
    assert "positive limit" in result.stderr


def test_back_references_are_refused(tmp_path, upstreams):
    rules = json.loads((NGINX_DIR / "waf_rules.json").read_text())
    rules["rules"][0]["pattern"] = r"(a)\1"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(rules))
    result = render(tmp_path / "gw", 18080, upstreams, "--waf-rules", str(bad))
    assert result.returncode == 2
    assert "back-references" in result.stderr


def test_command_line_errors(tmp_path):
    for args in (["--upstream", "nosuch=127.0.0.1:1"], ["--upstream", "search"], ["--waf-mode", "off"],
                 ["--trusted-proxy", "not-an-ip"], ["--listen", "abc"]):
        argv = [sys.executable, str(RENDER), "--prefix", str(tmp_path), "--listen", "8080", *args]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        assert result.returncode == 2, args
        assert not (tmp_path / "nginx.conf").exists()


def test_the_generous_limits_file_is_valid_and_keeps_the_routes(tmp_path, upstreams):
    generous = json.loads((NGINX_DIR / "limits-generous.json").read_text())
    normal = json.loads((NGINX_DIR / "limits.json").read_text())
    assert generous["routes"] == normal["routes"]
    assert all(p["limit"] >= 100000 for p in generous["policies"].values())
    result = render(tmp_path / "gw", 18080, upstreams, "--limits", str(NGINX_DIR / "limits-generous.json"), check=True)
    assert result.returncode == 0, result.stderr
