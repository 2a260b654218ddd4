from datetime import UTC, datetime, timedelta

from conftest import log_in

from hotelbook_ui.models import BrowserSession, db


def test_expired_sessions_are_ignored_and_purged(client, fake, app):
    log_in(client, fake)
    assert "Hello, Ada" in client.get("/").text
    with app.app_context():
        row = db.session.scalars(db.select(BrowserSession)).one()
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()
    assert "Hello, Ada" not in client.get("/").text
    result = app.test_cli_runner().invoke(args=["purge-sessions"])
    assert "1 expired sessions deleted" in result.output
    with app.app_context():
        assert db.session.scalars(db.select(BrowserSession)).all() == []


def test_a_forged_cookie_is_just_an_anonymous_visitor(client, fake):
    log_in(client, fake)
    real = client.cookies["hb_session"]
    client.reset()
    client.set_cookie("hb_session", real[:-1] + ("A" if real[-1] != "A" else "B"))
    page = client.get("/")
    assert "Hello, Ada" not in page.text and "Log in" in page.text
    client.reset()
    client.set_cookie("hb_session", real)
    assert "Hello, Ada" in client.get("/").text


def test_anonymous_pages_without_forms_create_no_session(client, app):
    client.get("/")
    with app.app_context():
        assert db.session.scalars(db.select(BrowserSession)).all() == []
    assert "hb_session" not in client.cookies


def test_reading_a_page_does_not_rewrite_the_session(client, fake, app):
    log_in(client, fake)
    client.get("/")  # first page may store the CSRF token
    with app.app_context():
        before = db.session.scalars(db.select(BrowserSession.updated_at)).one()
    client.get("/")
    client.get("/signup")
    with app.app_context():
        assert db.session.scalars(db.select(BrowserSession.updated_at)).one() == before


def test_a_refresh_done_meanwhile_by_another_request_is_adopted(client, fake, app, monkeypatch):
    import time

    from conftest import AUTH, RESERVATIONS, form_bodies

    log_in(client, fake, access="old-access", refresh="refresh-1", expires_in=1)
    interface = app.session_interface
    original = interface.open_session

    def loaded_then_rotated_elsewhere(flask_app, request):
        session = original(flask_app, request)
        if session.sid and request.path == "/reservations":
            # Another request of this browser refreshes between our read and our refresh.
            interface.with_row_locked(session, lambda stored: {**stored, "tokens": {
                **stored["tokens"], "access_token": "access-by-other", "refresh_token": "refresh-2",
                "expires_at": time.time() + 300}})
        return session

    monkeypatch.setattr(interface, "open_session", loaded_then_rotated_elsewhere)
    fake.get(f"{RESERVATIONS}/reservations", json={"items": [], "next_token": None})
    client.get("/reservations", status=200)
    # No second use of refresh-1 (auth would take it for theft and revoke the family).
    assert len(form_bodies(fake, "POST", f"{AUTH}/oauth/token")) == 1  # only the code exchange
    assert form_bodies(fake, "GET", f"{RESERVATIONS}/reservations")[0].headers["Authorization"] == \
        "Bearer access-by-other"
