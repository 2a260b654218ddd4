"""Bodies: the kind is the parsed media type, JSON is read with Python's grammar, and a
body the WAF cannot read the way the services will is refused before any service sees it."""

from __future__ import annotations

import http.client
import json
import uuid

import pytest
from conftest import Gateway

SCRIPT = b'{"q": "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"}'


def post(gateway: Gateway, body: bytes, content_type: str | list[str] | None = "application/json",
         path: str = "/api/search/hotels"):
    request_id = f"body-{uuid.uuid4().hex[:12]}"
    headers: dict[str, str] = {"X-Request-ID": request_id}
    if isinstance(content_type, str):
        headers["Content-Type"] = content_type
    response = gateway.request("POST", path, data=body, headers=headers)
    return response, request_id


@pytest.mark.parametrize("content_type", [
    'application/json; x="application/x-www-form-urlencoded"',   # bypass (a)
    "application/json;application/x-www-form-urlencoded",
    "Application/JSON; charset=utf-8",
    "application/json  ;",
    "application/vnd.hotelbook+json",
])
def test_json_is_recognised_by_its_media_type_only(gateway: Gateway, problem, content_type):
    response, _ = post(gateway, SCRIPT, content_type)
    assert problem(response, 403)["type"] == "urn:problem:hotelbook:request-blocked"


def test_a_form_type_in_a_parameter_does_not_make_a_form(gateway: Gateway, problem):
    # Read as a form, this body would be one harmless field name; as JSON it is XSS.
    body = b'{"a": "<img src=x onerror=alert(1)>"}'
    response, _ = post(gateway, body, 'application/json; boundary="application/x-www-form-urlencoded"')
    problem(response, 403)


@pytest.mark.parametrize("body", [
    b'{"q": "\x7f\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"}',    # bypass (b): a raw DEL byte
    b'{"n": NaN, "q": "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"}',  # bypass (b): NaN
    b'[Infinity, -Infinity, {"q": "x\' union select password from users--"}]',
])
def test_json_that_python_accepts_is_inspected(gateway: Gateway, problem, body):
    json.loads(body)  # Python reads it: so must the WAF
    response, _ = post(gateway, body)
    problem(response, 403)


# Texts on the edge of the JSON grammar: the gateway must agree with Python's json.
EDGES = [
    b'{"a": "x\x7fy"}', b'[NaN]', b'[Infinity, -Infinity]', b'[1e400]', b'"just a string"', b'12', b'-0',
    b' \t\r\n[1] \n', b'{"a": 1, "a": 2}', b'["\\/\\b\\f\\n\\r\\t\\"\\\\"]',
    "[\"Zo\u00eb \u00d1\u00fa\u00f1ez\"]".encode(),
    b'[nan]', b'[-NaN]', b'[0x10]', b'[01]', b'[1.]', b'[.5]', b'[+1]', b'["a\x01b"]', b'["tab\there"]',
    b'[1]\x00', b'[1]\x0c', b'{"a": 1,}', b'[1,]', b'["\\x41"]', b'["\xff"]', b'\xef\xbb\xbf[1]', b'{"a" 1}',
    b'[1] [2]', b'tru', b'"unterminated', b'["\xed\xa0\x80"]',
]


def python_accepts(body: bytes) -> bool:
    try:
        json.loads(body.decode("utf-8"))  # what webargs does with a JSON body
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("body", EDGES, ids=[repr(b)[:40] for b in EDGES])
def test_no_parser_differential_with_python(gateway: Gateway, problem, body):
    response, request_id = post(gateway, body)
    if python_accepts(body):
        assert response.status_code == 200, response.text
        assert response.json()["body"] == body.decode("utf-8")
    else:
        assert problem(response, 400)["type"] == "urn:problem:hotelbook:invalid-json"
        assert gateway.log_for(request_id)["upstream"] == ""  # no service saw it


def test_lone_surrogate_escapes_are_refused(gateway: Gateway, problem):
    # Python accepts "\ud800" (a lone surrogate); lua-cjson cannot decode it, so the
    # gateway refuses it rather than pass on what it could not inspect.
    response, _ = post(gateway, b'["\\ud800"]')
    problem(response, 400)


def test_empty_json_body_passes(gateway: Gateway):
    response, _ = post(gateway, b"")
    assert response.status_code == 200


def multipart(*parts: tuple[bytes, bytes], boundary: bytes = b"xyz") -> bytes:
    """A multipart/form-data body of (Content-Disposition parameters, content) parts."""
    body = b""
    for params, content in parts:
        body += b"--" + boundary + b"\r\nContent-Disposition: form-data; " + params + b"\r\n\r\n" + content + b"\r\n"
    return body + b"--" + boundary + b"--\r\n"


MULTIPART_ATTACKS = {
    "value": multipart((b'name="city"', b"Paris"), (b'name="q"', b"<script>alert(1)</script>")),
    "value-sqli": multipart((b'name="q"', b"1' UNION SELECT password FROM users--")),
    "value-lfi": multipart((b'name="page"', b"../../../../etc/passwd")),
    "filename": multipart((b'name="upload"; filename="<svg onload=alert(1)>.png"', b"\x89PNG...")),
    "filename-php": multipart((b'name="upload"; filename="shell.php"', b"<?php system($_GET['c']); ?>")),
    "filename-traversal": multipart((b'name="upload"; filename="../../etc/passwd"', b"x")),
    "part-name": multipart((b'name="<script>alert(1)</script>"', b"x")),
    "part-name-sqli": multipart((b'name="x\' or 1=1--"', b"x")),
}


@pytest.mark.parametrize("where", MULTIPART_ATTACKS)
def test_an_attack_in_a_multipart_body_is_blocked(gateway: Gateway, problem, where):
    response, request_id = post(gateway, MULTIPART_ATTACKS[where], "multipart/form-data; boundary=xyz")
    body = problem(response, 403)
    assert body["type"] == "urn:problem:hotelbook:request-blocked"
    entry = gateway.log_for(request_id)
    assert entry["waf_action"] == "blocked" and entry["waf_rule"], entry


def test_a_clean_multipart_body_is_inspected_then_refused(gateway: Gateway, problem):
    body = multipart((b'name="name"', "Zo\u00eb O'Brien".encode()), (b'name="note"', b"Select a quiet room, please"),
                     (b'name="photo"; filename="me.jpg"', b"\xff\xd8\xff\xe0 jpeg bytes"))
    response, request_id = post(gateway, body, "multipart/form-data; boundary=xyz")
    assert problem(response, 415)["type"] == "urn:problem:hotelbook:unsupported-media-type"
    assert gateway.log_for(request_id)["waf_rule"] == ""


@pytest.mark.parametrize("body", [
    b"--xyz\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\n<script>alert(1)</script>",  # no closing
    b"<script>alert(1)</script>",                                                            # no boundary at all
    b"--xyz\r\nContent-Type: text/plain\r\n\r\nx\r\n--xyz--\r\n",                           # no disposition
    b"--xyz\r\nContent-Disposition: form-data; name=\"q\"\r\n<script>\r\n--xyz--\r\n",      # no blank line
])
def test_a_malformed_multipart_body_is_blocked(gateway: Gateway, problem, body):
    response, request_id = post(gateway, body, "multipart/form-data; boundary=xyz")
    problem(response, 403)
    assert "multipart-invalid" in gateway.log_for(request_id)["waf_rule"]


def test_a_multipart_body_without_boundary_is_blocked(gateway: Gateway, problem):
    response, _ = post(gateway, multipart((b'name="q"', b"x")), "multipart/form-data")
    problem(response, 403)


def test_multipart_in_detect_mode_is_logged_then_refused(detect_gateway: Gateway, problem):
    response, request_id = post(detect_gateway, MULTIPART_ATTACKS["value"], "multipart/form-data; boundary=xyz")
    problem(response, 415)
    entry = detect_gateway.log_for(request_id)
    assert entry["waf_action"] == "logged" and entry["waf_rule"], entry


@pytest.mark.parametrize(("content_type", "body"), [
    ("text/xml", b"<q>1' UNION SELECT password FROM users--</q>"),
    ("application/xml", b"<a><b>&lt;script&gt;alert(1)&lt;/script&gt;</b></a>"),
    ("application/soap+xml", b"<a><![CDATA[; cat /etc/passwd]]></a>"),
    ("application/xml", b'<a href="javascript:alert(document.cookie)">x</a>'),
    ("text/xml", b"not xml: <script>alert(1)</script>"),
    (None, b"q=<script>alert(1)</script>"),                      # no Content-Type at all
    ("text/plain", b"1' UNION SELECT password FROM users--"),  # a type the CRS policy refuses
])
def test_an_attack_in_a_body_no_service_parses_is_blocked(gateway: Gateway, problem, content_type, body):
    response, request_id = post(gateway, body, content_type)
    assert problem(response, 403)["type"] == "urn:problem:hotelbook:request-blocked"
    assert gateway.log_for(request_id)["waf_rule"]


@pytest.mark.parametrize(("content_type", "body"), [
    ("text/xml", b"not json at all; just text"),
    ("application/xml", "<guest><name>Zo\u00eb O'Brien</name><note>late arrival</note></guest>".encode()),
])
def test_a_clean_xml_body_passes(gateway: Gateway, content_type, body):
    response, request_id = post(gateway, body, content_type)
    assert response.status_code == 200, response.text
    assert gateway.log_for(request_id)["waf_rule"] == ""


def test_two_content_types_are_refused(gateway: Gateway, problem):
    request_id = f"body-{uuid.uuid4().hex[:12]}"
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    connection.putrequest("POST", "/api/search/hotels")
    connection.putheader("Content-Type", "text/plain")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(len(SCRIPT)))
    connection.putheader("X-Request-ID", request_id)
    connection.endheaders(SCRIPT)
    response = connection.getresponse()
    assert response.status == 400
    assert json.loads(response.read())["detail"] == "More than one Content-Type header."


def test_a_body_on_a_get_is_inspected_too(gateway: Gateway, problem):
    response = gateway.request("GET", "/api/search/hotels", data=SCRIPT,
                               headers={"Content-Type": "application/json"})
    problem(response, 403)


def test_invalid_json_is_refused_in_detect_mode_too(detect_gateway: Gateway, problem):
    response, _ = post(detect_gateway, b'{"q": "x\x01"}')
    problem(response, 400)
