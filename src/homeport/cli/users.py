"""``homeport users create``, ``homeport users portal-account`` and
``homeport tokens create|revoke``."""

from __future__ import annotations

import getpass
import secrets

import typer

from homeport.cli.context import CLI_ACTOR, fail, get, out, report
from homeport.core.errors import HomeportError
from homeport.identity import actions, service
from homeport.identity.models import ROLES, SCOPES
from homeport.subscribers.actions import subscriber_by_account

users = typer.Typer(help="Staff users.", no_args_is_help=True)
tokens = typer.Typer(help="API tokens for integrations.", no_args_is_help=True)


def _password(given: str | None) -> tuple[str, bool]:
    """The password to set and whether it was generated: the one given, else asked for on a
    terminal, else a random one (printed by the caller)."""
    if given is not None:
        return given, False
    if typer.get_text_stream("stdin").isatty():
        return getpass.getpass("Password (10+ characters): "), False
    return secrets.token_urlsafe(12), True


@users.command("create")
def create_user(
    ctx: typer.Context,
    email: str = typer.Option(..., "--email", help="The user's e-mail (their sign-in name)."),
    role: str = typer.Option(..., "--role", help=f"One of: {', '.join(ROLES)}."),
    password: str | None = typer.Option(
        None, "--password", help="Omit to be asked, or to generate one when there is no terminal."
    ),
    name: str = typer.Option("", "--name"),
) -> None:
    """Create a staff user."""
    cli = get(ctx)
    password, generated = _password(password)
    try:
        with cli.migrated_db().transaction() as session:
            user = actions.create_staff_user(
                session,
                email=email,
                role=role,
                password=password,
                name=name,
                actor=CLI_ACTOR,
                now=cli.clock.now(),
            )
    except HomeportError as exc:
        raise report(exc) from exc
    out.print(f"created {user.role} {user.email} (id {user.id})")
    if generated:
        out.print(f"password: {password}")


@users.command("portal-account")
def create_portal_account(
    ctx: typer.Context,
    account: str = typer.Option(..., "--account", help="The subscriber's account number."),
    email: str = typer.Option(..., "--email", help="Their sign-in e-mail for the portal."),
    password: str | None = typer.Option(
        None, "--password", help="Omit to be asked, or to generate one when there is no terminal."
    ),
) -> None:
    """Give a subscriber a self-service portal account (/portal/login, the chat page)."""
    cli = get(ctx)
    password, generated = _password(password)
    try:
        with cli.migrated_db().transaction() as session:
            subscriber = subscriber_by_account(session, account)
            if subscriber is None:
                raise fail(f"no subscriber with account number {account}")
            created = actions.create_subscriber_account(
                session,
                subscriber_id=subscriber.id,
                email=email,
                password=password,
                actor=CLI_ACTOR,
                now=cli.clock.now(),
            )
    except HomeportError as exc:
        raise report(exc) from exc
    out.print(f"created portal account {created.email} for {account}")
    if generated:
        out.print(f"password: {password}")


@tokens.command("create")
def create_token(
    ctx: typer.Context,
    email: str = typer.Option(..., "--email", help="The staff user the token acts for."),
    scope: list[str] = typer.Option(
        ["read"], "--scope", help=f"Repeatable; one of: {', '.join(SCOPES)}."
    ),
    name: str = typer.Option("", "--name", help="What the token is for."),
) -> None:
    """Create an API token; the token is printed once, as the last line."""
    cli = get(ctx)
    scopes = [s for item in scope for s in item.replace(",", " ").split()]
    try:
        with cli.migrated_db().transaction() as session:
            user = service.staff_by_email(session, email)
            if user is None:
                raise fail(f"no staff user with e-mail {email}")
            token, secret = actions.create_api_token(
                session,
                user_id=user.id,
                scopes=scopes,
                name=name,
                actor=CLI_ACTOR,
                now=cli.clock.now(),
            )
    except HomeportError as exc:
        raise report(exc) from exc
    out.print(f"token {token.id} for {email}, scopes: {token.scopes} (shown once; store it)")
    print(secret)


@tokens.command("revoke")
def revoke_token(ctx: typer.Context, token_id: int = typer.Argument(...)) -> None:
    """Revoke a token by its id."""
    cli = get(ctx)
    try:
        with cli.migrated_db().transaction() as session:
            actions.revoke_api_token(
                session, token_id=token_id, actor=CLI_ACTOR, now=cli.clock.now()
            )
    except HomeportError as exc:
        raise report(exc) from exc
    out.print(f"token {token_id} revoked")
