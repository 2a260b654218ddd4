"""refresh_token: rotated on every use; reuse of a spent one revokes the whole family."""

from conftest import assert_oauth_error, basic, exchange, refresh
from sqlalchemy import update

from hotelbook_auth.models import RefreshToken, db


def _tokens(client, ui_client, login_code):
    code, verifier = login_code()
    return exchange(client, ui_client, code, verifier).json


def test_refresh_rotates(client, ui_client, login_code, verifier_for):
    first = _tokens(client, ui_client, login_code)
    second = refresh(client, ui_client, first["refresh_token"]).json
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    claims = verifier_for("reservations").verify(second["access_token"])
    assert claims["scope"] == "guest" and claims["sub"]
    third = refresh(client, ui_client, second["refresh_token"]).json
    assert third["refresh_token"] not in (first["refresh_token"], second["refresh_token"])


def test_reuse_revokes_the_family(client, ui_client, login_code):
    first = _tokens(client, ui_client, login_code)
    second = refresh(client, ui_client, first["refresh_token"]).json
    third = refresh(client, ui_client, second["refresh_token"]).json
    # An attacker (or a bug) replays the first refresh token...
    assert_oauth_error(refresh(client, ui_client, first["refresh_token"], status=400), "invalid_grant")
    # ...so the newest one, descended from the same authorization, is dead too,
    assert_oauth_error(refresh(client, ui_client, third["refresh_token"], status=400), "invalid_grant")
    # and so are the access tokens issued with them.
    creds = basic(ui_client["client_id"], ui_client["client_secret"])
    assert client.post("/oauth/introspect", {"token": third["access_token"]}, headers=creds).json == {
        "active": False}


def test_reuse_leaves_other_families_alone(client, ui_client, login_code):
    one = _tokens(client, ui_client, login_code)
    other = _tokens(client, ui_client, login_code)
    refresh(client, ui_client, one["refresh_token"])
    refresh(client, ui_client, one["refresh_token"], status=400)
    assert refresh(client, ui_client, other["refresh_token"]).json["refresh_token"]


def test_refresh_can_narrow_but_not_widen_scope(client, ui_client, login_code):
    first = _tokens(client, ui_client, login_code)
    answer = refresh(client, ui_client, first["refresh_token"], status=400, scope="guest users:create")
    assert_oauth_error(answer, "invalid_scope")
    # the refused request did not spend the token
    assert refresh(client, ui_client, first["refresh_token"], scope="guest").json["scope"] == "guest"


def test_refresh_token_of_another_client_is_invalid_grant(client, ui_client, register, login_code):
    other = register("other-ui", "guest", "authorization_code refresh_token",
                     redirect_uris=["http://x.test/cb"])
    first = _tokens(client, ui_client, login_code)
    assert_oauth_error(refresh(client, other, first["refresh_token"], status=400), "invalid_grant")


def test_expired_and_unknown_refresh_tokens_are_invalid_grant(client, clean_db, ui_client, login_code):
    first = _tokens(client, ui_client, login_code)
    with clean_db.app_context():
        db.session.execute(update(RefreshToken).values(expires_at=RefreshToken.issued_at - 1))
        db.session.commit()
    assert_oauth_error(refresh(client, ui_client, first["refresh_token"], status=400), "invalid_grant")
    assert_oauth_error(refresh(client, ui_client, "not-a-token", status=400), "invalid_grant")


def test_missing_refresh_token_is_invalid_request(client, ui_client):
    answer = client.post("/oauth/token", {"grant_type": "refresh_token"},
                         headers=basic(ui_client["client_id"], ui_client["client_secret"]), status=400)
    assert_oauth_error(answer, "invalid_request")


def test_refresh_tokens_are_stored_hashed(client, clean_db, ui_client, login_code):
    first = _tokens(client, ui_client, login_code)
    with clean_db.app_context():
        stored = db.session.execute(db.select(RefreshToken.token_hash)).scalars().all()
    assert stored and first["refresh_token"] not in stored


def test_a_concurrent_second_use_counts_as_reuse(client, ui_client, login_code, monkeypatch):
    from hotelbook_auth.actions.oauth import RefreshTokenGrant

    first = _tokens(client, ui_client, login_code)
    original = RefreshTokenGrant.authenticate_user

    def racing(self, row):
        # another request spends the same refresh token between our check and our update
        with db.engine.begin() as conn:
            conn.execute(update(RefreshToken).where(RefreshToken.token_hash == row.token_hash).values(used_at=1))
        return original(self, row)

    monkeypatch.setattr(RefreshTokenGrant, "authenticate_user", racing)
    assert_oauth_error(refresh(client, ui_client, first["refresh_token"], status=400), "invalid_grant")
    monkeypatch.setattr(RefreshTokenGrant, "authenticate_user", original)
    creds = basic(ui_client["client_id"], ui_client["client_secret"])
    # the family is revoked, and the token the losing request minted was never stored
    assert client.post("/oauth/introspect", {"token": first["access_token"]}, headers=creds).json == {
        "active": False}
