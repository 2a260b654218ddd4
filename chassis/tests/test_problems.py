"""Every error is RFC 9457 problem+json with a request id; never HTML, never a trace."""

from __future__ import annotations

import json

from openapi_spec_validator import validate

from hotelbook_chassis.testing import bearer


def assert_problem(response, status):
    assert response.status_int == status
    assert response.content_type == "application/problem+json"
    body = response.json
    assert body["status"] == status
    assert {"type", "title", "detail", "request_id"} <= body.keys()
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def test_unknown_path_is_404_problem(client):
    assert_problem(client.get("/nowhere", status=404), 404)


def test_wrong_method_is_405_with_allow(client):
    response = client.delete("/healthz", status=405)
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_validation_error_names_fields(client, token_factory):
    response = client.post_json("/notes", {"text": "", "stars": 9, "extra": 1},
                                headers=bearer(token_factory("notes:write")), status=400)
    body = assert_problem(response, 400)
    names = {p["name"] for p in body["invalid_params"]}
    assert names == {"text", "stars", "extra"}


def test_malformed_json_is_400(client, token_factory):
    response = client.post("/notes", "{not json", content_type="application/json",
                           headers=bearer(token_factory("notes:write")), status=400)
    assert_problem(response, 400)


def test_unexpected_exception_is_500_without_internals(client):
    response = client.get("/boom", status=500)
    body = assert_problem(response, 500)
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    assert body["detail"]


def test_service_problem_keeps_extras(client):
    body = assert_problem(client.get("/teapot", status=418), 418)
    assert body["type"] == "urn:problem:hotelbook:teapot"
    assert body["extra_field"] == 1


def test_request_id_is_kept_when_sane_and_replaced_when_not(client):
    kept = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert kept.headers["X-Request-ID"] == "abc-123"
    replaced = client.get("/healthz", headers={"X-Request-ID": "bad id\u00e9<script>"})
    assert replaced.headers["X-Request-ID"] != "bad id\u00e9<script>"
    assert len(replaced.headers["X-Request-ID"]) == 32


def test_health_ready_metrics(client):
    assert client.get("/healthz").json["status"] == "ok"
    assert client.get("/readyz").json["status"] == "ready"
    client.get("/nowhere", status=404)
    metrics = client.get("/metrics")
    assert "http_requests_total" in metrics.text
    assert 'status="404"' in metrics.text


def test_readyz_reports_failing_check(app, client):
    from hotelbook_chassis.health import add_ready_check

    checks = app.extensions["hotelbook_ready_checks"]
    add_ready_check(app, "broken-peer", lambda: "unreachable")
    try:
        body = assert_problem(client.get("/readyz", status=503), 503)
        assert body["checks"] == {"broken-peer": "unreachable"}
    finally:
        checks.pop("broken-peer")


def test_openapi_is_valid_and_documents_problems(client):
    spec = client.get("/openapi.json").json
    validate(spec)
    post = spec["paths"]["/notes"]["post"]
    assert post["security"] == [{"bearerAuth": ["notes:write"]}]
    bad_request = post["responses"]["400"]
    if "$ref" in bad_request:
        bad_request = spec["components"]["responses"][bad_request["$ref"].rsplit("/", 1)[1]]
    assert "application/problem+json" in bad_request["content"]
    assert "application/json" not in json.dumps(spec["components"].get("responses", {}))


def test_json_log_lines_carry_request_id(client, capfd):
    import json
    import logging

    from hotelbook_chassis.observability import configure_logging

    configure_logging("notes", "INFO", json_lines=True)
    try:
        client.get("/teapot", headers={"X-Request-ID": "trace-me-1"}, status=418)
        lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
        assert any(line.get("request_id") == "trace-me-1" and line["service"] == "notes" for line in lines)
    finally:
        configure_logging("notes", "INFO", json_lines=False)
        logging.getLogger().setLevel(logging.INFO)


def test_one_access_line_per_request_under_gunicorn_logging(client, capfd):
    """With gunicorn's logging config applied first (as in a worker), a request is logged once."""
    import json
    import logging
    import logging.config

    from hotelbook_chassis import gunicorn_conf
    from hotelbook_chassis.observability import configure_logging

    root = logging.getLogger()
    before = list(root.handlers)
    logging.config.dictConfig(gunicorn_conf.logconfig_dict)
    configure_logging("notes", "INFO", json_lines=True)
    try:
        capfd.readouterr()
        client.get("/teapot", headers={"X-Request-ID": "once-1"}, status=418)
        lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
        access = [line for line in lines if line.get("logger") == "hotelbook.access"]
        assert len(access) == 1
        assert access[0]["request_id"] == "once-1"
        assert (access[0]["method"], access[0]["route"], access[0]["status"]) == ("GET", "/teapot", 418)
        assert access[0]["duration_ms"] >= 0
    finally:
        configure_logging("notes", "INFO", json_lines=False)
        for handler in before:
            if handler not in root.handlers:
                root.addHandler(handler)
        logging.getLogger().setLevel(logging.INFO)


def test_free_ports_are_distinct_and_outside_the_ephemeral_range():
    import socket

    from hotelbook_chassis.testing import _ephemeral_range, free_port

    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)  # never handed out twice, bound or not
    low, _ = _ephemeral_range()
    assert all(port < low for port in ports)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[-1]))  # and really free
