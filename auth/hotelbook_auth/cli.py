"""``flask --app hotelbook_auth clients create|list`` and ``keys ensure|rotate|retire``."""

from __future__ import annotations

import json
import time
import uuid

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from hotelbook_auth import domain
from hotelbook_auth.actions import keys
from hotelbook_auth.actions.oauth import purge_expired
from hotelbook_auth.models import Client, db

clients_cli = AppGroup("clients", help="OAuth clients.")
keys_cli = AppGroup("keys", help="Token signing keys.")
tokens_cli = AppGroup("tokens", help="Stored codes and tokens.")


@clients_cli.command("create")
@click.option("--name", required=True, help="The client's name (shown on the login page without --display-name).")
@click.option("--display-name", help='The name guests know, shown on the login page, e.g. "Hotelbook".')
@click.option("--signup-uri", help="The client's sign-up page, linked from the login page.")
@click.option("--password-reset-uri", help="The client's forgotten-password page, linked from the login page.")
@click.option("--scopes", required=True, help='Space separated, e.g. "guest users:create".')
@click.option("--grants", required=True, help='Space separated, e.g. "client_credentials".')
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Exact redirect URI (repeatable).")
@click.option("--public", is_flag=True, help="A public client: no secret, PKCE only.")
@click.option("--client-id", help="Use this id; an existing client gets a new secret and these settings.")
def create_client(name: str, display_name: str | None, signup_uri: str | None, password_reset_uri: str | None,
                  scopes: str, grants: str, redirect_uris: tuple[str, ...], public: bool,
                  client_id: str | None) -> None:
    """Register a client (or re-register one) and print {"client_id", "client_secret"} as JSON."""
    scope_names, grant_names = domain.scope_list(scopes), domain.scope_list(grants)
    try:
        domain.check_registration(grants=grant_names, scopes=scope_names, redirect_uris=redirect_uris,
                                  public=public, page_uris=[u for u in (signup_uri, password_reset_uri) if u])
    except domain.PolicyError as error:
        raise click.UsageError(str(error)) from error
    if display_name is not None and not (0 < len(display_name.strip()) <= 200 and display_name.isprintable()):
        raise click.UsageError("--display-name must be 1 to 200 printable characters")
    if client_id is not None and not (0 < len(client_id) <= 100 and client_id.isprintable() and " " not in client_id):
        raise click.UsageError("--client-id must be 1 to 100 printable characters without spaces")
    client_id = client_id or str(uuid.uuid4())
    now = int(time.time())
    client = db.session.get(Client, client_id)
    if client is None:
        client = Client(client_id=client_id, created_at=now)
        db.session.add(client)
    secret = None if public else domain.new_client_secret()
    client.name = name
    client.display_name = display_name.strip() if display_name else None
    client.signup_uri = signup_uri or None
    client.password_reset_uri = password_reset_uri or None
    client.is_public = public
    client.secret_hash = domain.hash_client_secret(secret) if secret else None
    client.grant_types = " ".join(grant_names)
    client.scopes = " ".join(scope_names)
    client.redirect_uris = list(redirect_uris)
    client.updated_at = now
    db.session.commit()
    output = {"client_id": client_id}
    if secret:
        output["client_secret"] = secret
    click.echo(json.dumps(output))


@clients_cli.command("describe")
@click.option("--client-id", required=True, help="The registered client.")
@click.option("--display-name", help='The name guests know, shown on the login page, e.g. "Hotelbook".')
@click.option("--signup-uri", help="The client's sign-up page, linked from the login page.")
@click.option("--password-reset-uri", help="The client's forgotten-password page, linked from the login page.")
def describe_client(client_id: str, display_name: str | None, signup_uri: str | None,
                    password_reset_uri: str | None) -> None:
    """Set what the login page shows of a client (its secret and grants stay as they are)."""
    client = db.session.get(Client, client_id)
    if client is None:
        raise click.UsageError(f"no client {client_id!r}")
    try:
        domain.check_page_uris([u for u in (signup_uri, password_reset_uri) if u], client.redirect_uris)
    except domain.PolicyError as error:
        raise click.UsageError(str(error)) from error
    if display_name is not None and not (0 < len(display_name.strip()) <= 200 and display_name.isprintable()):
        raise click.UsageError("--display-name must be 1 to 200 printable characters")
    if display_name is not None:
        client.display_name = display_name.strip()
    if signup_uri is not None:
        client.signup_uri = signup_uri
    if password_reset_uri is not None:
        client.password_reset_uri = password_reset_uri
    client.updated_at = int(time.time())
    db.session.commit()
    click.echo(json.dumps({"client_id": client_id, "display_name": client.display_name,
                           "signup_uri": client.signup_uri, "password_reset_uri": client.password_reset_uri}))


@clients_cli.command("list")
def list_clients() -> None:
    """Registered clients and what they may do (never secrets)."""
    for client in db.session.execute(select(Client).order_by(Client.client_id)).scalars():
        click.echo(json.dumps({"client_id": client.client_id, "name": client.name,
                               "display_name": client.display_name, "public": client.is_public,
                               "grants": client.grant_types, "scopes": client.scopes,
                               "redirect_uris": client.redirect_uris, "signup_uri": client.signup_uri,
                               "password_reset_uri": client.password_reset_uri}))


@keys_cli.command("ensure")
def ensure_key() -> None:
    """Create the first signing key when there is none."""
    kid, created = keys.ensure()
    click.echo(f"{'created' if created else 'active'} signing key {kid}")


@keys_cli.command("rotate")
def rotate_key() -> None:
    """Add a signing key and make it active; the previous one stays published until retired."""
    click.echo(f"active signing key {keys.rotate()}")


@keys_cli.command("retire")
def retire_keys() -> None:
    """Drop keys retired longer than the longest token lifetime plus leeway."""
    config = current_app.config
    dropped = keys.retire(max(config["ACCESS_TOKEN_TTL"], config["SERVICE_TOKEN_TTL"]), config["KEY_RETIRE_LEEWAY"])
    click.echo(f"dropped {len(dropped)} retired key(s){': ' + ' '.join(dropped) if dropped else ''}")


@tokens_cli.command("purge")
@click.option("--grace", default=86400, show_default=True, help="Seconds past expiry to keep rows.")
def purge_tokens(grace: int) -> None:
    """Delete expired authorization codes, refresh tokens and revoked access-token ids."""
    click.echo(json.dumps(purge_expired(grace)))


def init_cli(app: Flask) -> None:
    app.cli.add_command(clients_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(tokens_cli)
