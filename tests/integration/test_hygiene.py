"""What a running system leaves on disk, and which OAuth clients a bootstrap creates."""

from __future__ import annotations

import stat

from hotelbook_stack import bootstrap as steps
from hotelbook_stack.layout import Layout
from hotelbook_stack.services import SERVICES


def test_nothing_under_var_is_readable_by_group_or_others(stack):
    # databases with password hashes, secrets, signing keys, client credentials, gateway logs
    open_to_others = []
    for path in [stack.layout.var_dir, *stack.layout.var_dir.rglob("*")]:
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            open_to_others.append(f"{path.relative_to(stack.layout.var_dir)} {oct(mode)}")
    assert open_to_others == []
    assert any(stack.layout.var_dir.glob("*.db")) or stack.layout.postgres_url  # there was something to check
    assert (stack.layout.var_dir / "nginx" / "logs" / "access.log").exists()


def test_a_bootstrap_registers_only_the_services_own_clients(tmp_path, monkeypatch):
    registered = []

    def register(layout, name, grants, scopes, **kwargs):
        registered.append((name, scopes))
        return {"client_id": name, "client_secret": "s"}

    monkeypatch.setattr(steps, "register_client", register)
    layout = Layout(var_dir=tmp_path)
    steps.register_service_clients(layout)
    assert sorted(name for name, _ in registered) == sorted(s.name for s in SERVICES if s.client)
    assert not [scope for _, scopes in registered for scope in scopes.split() if scope.endswith(":write")]
    # the admin client only when asked for, its credentials for the owner only
    steps.register_admin_client(layout)
    assert registered[-1] == ("catalogue-admin", "search:write payments:read")
    assert stat.S_IMODE(layout.client_file("catalogue-admin").stat().st_mode) == 0o600


def test_a_second_bootstrap_keeps_the_secrets_and_sets_what_the_login_page_shows(tmp_path, monkeypatch):
    registered, described = [], []

    def register(layout, name, grants, scopes, **kwargs):
        registered.append((name, kwargs))
        return {"client_id": name, "client_secret": "s"}

    monkeypatch.setattr(steps, "register_client", register)
    monkeypatch.setattr(steps, "describe_client", lambda layout, client_id, **pages: described.append(
        (client_id, pages)))
    layout = Layout(var_dir=tmp_path)
    steps.register_service_clients(layout)
    ui = dict(registered)["booking-ui"]
    assert ui["display_name"] == "Hotelbook" and ui["signup_uri"].endswith("/signup")
    assert ui["password_reset_uri"].endswith("/forgot-password")
    assert all("display_name" not in kwargs for name, kwargs in registered if name != "booking-ui")
    count = len(registered)
    steps.register_service_clients(layout)  # make up again: no new secrets, the pages set
    assert len(registered) == count
    assert described == [("booking-ui", {key: ui[key] for key in ("display_name", "signup_uri",
                                                                  "password_reset_uri")})]
