"""The minimal portal the chat needs: a portal account made with the CLI, sign-in, the chat
page, sign-out; staff sessions do not open it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from homeport.cli.main import app as cli
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.web.app import create_app
from tests.conftest import csrf_from, login, make_staff
from tests.factories import build_fleet


def test_portal_account_sign_in_and_chat_page(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clock: ManualClock
) -> None:
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    monkeypatch.setenv("HOMEPORT_DATABASE_URL", url)
    monkeypatch.setenv("HOMEPORT_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    db = Database(url)
    build_fleet(db, clock.now())
    make_staff(db, clock)
    args = ["users", "portal-account", "--account", "ACC-1001", "--email", "Alice@Home.example"]
    made = runner.invoke(cli, [*args, "--password", "a long password"])
    assert made.exit_code == 0, made.output
    assert "created portal account alice@home.example for ACC-1001" in made.output
    assert runner.invoke(cli, [*args, "--password", "a long password"]).exit_code == 1  # taken
    missing = runner.invoke(
        cli, ["users", "portal-account", "--account", "NOPE", "--email", "x@y.example"]
    )
    assert missing.exit_code == 1 and "no subscriber with account number NOPE" in missing.output

    settings = Settings(database_url=url, data_dir=tmp_path / "data", secret_key="k" * 32)
    app = create_app(settings, db=db, clock=clock)
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        anonymous = client.get("/portal/chat", headers={"accept": "text/html"})
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == "/portal/login?next=/portal/chat"
        form = client.get("/portal/login?next=/portal/chat")
        token = csrf_from(form.text)
        wrong = client.post(
            "/portal/login",
            data={"email": "alice@home.example", "password": "nope nope nope", "csrf_token": token},
        )
        assert wrong.status_code == 401 and "Wrong e-mail address or password" in wrong.text
        # A sign-in never redirects off the portal (an open redirect).
        ok = client.post(
            "/portal/login",
            data={
                "email": "alice@home.example",
                "password": "a long password",
                "csrf_token": token,
                "next": "https://evil.example/",
            },
        )
        assert ok.status_code == 303 and ok.headers["location"] == "/portal/"  # home
        page = client.get("/portal/chat")
        assert page.status_code == 200
        assert "Chat with us, Alice" in page.text and 'src="/static/chat.js"' in page.text
        assert client.get("/static/chat.js").status_code == 200
        out = client.post("/portal/logout", data={"csrf_token": csrf_from(page.text)})
        assert out.status_code == 303
        assert client.get("/portal/chat").status_code == 303
        # A staff session is not a subscriber's.
        login(client, "agent@example.net")
        assert client.get("/portal/chat").status_code == 403
    db.dispose()
