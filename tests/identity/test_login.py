from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.identity.models import LoginAttempt, StaffUser
from tests.conftest import PASSWORD, csrf_from, login, make_staff


def _post_login(client: TestClient, email: str, password: str) -> object:
    token = csrf_from(client.get("/login").text)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": "/subscribers"},
    )


def test_sign_in_and_out(client: TestClient, db: Database, clock: ManualClock) -> None:
    make_staff(db, clock, email="Agent@Example.net")
    assert client.get("/api/v1/me").status_code == 401
    before = client.cookies.get("homeport_session")
    response = _post_login(client, "agent@example.NET", PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/subscribers"
    assert client.cookies.get("homeport_session") != before  # a fresh session on sign-in
    me = client.get("/api/v1/me").json()
    assert me["email"] == "agent@example.net" and me["role"] == "agent"
    with db.session() as s:
        assert s.scalar(select(StaffUser.last_login_at)) == clock.now()

    token = csrf_from(client.get("/login").text)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/api/v1/me").status_code == 401


def test_wrong_password_unknown_user_and_inactive_user(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    user = make_staff(db, clock)
    r = _post_login(client, "agent@example.net", "wrong password!")
    assert r.status_code == 401 and "Wrong e-mail address or password" in r.text
    assert _post_login(client, "nobody@example.net", PASSWORD).status_code == 401
    with db.transaction() as s:
        s.get(StaffUser, user.id).is_active = False  # type: ignore[union-attr]
    assert _post_login(client, "agent@example.net", PASSWORD).status_code == 401


def test_deactivating_a_user_ends_their_session(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    user = make_staff(db, clock)
    login(client, "agent@example.net")
    assert client.get("/api/v1/me").status_code == 200
    with db.transaction() as s:
        s.get(StaffUser, user.id).is_active = False  # type: ignore[union-attr]
    assert client.get("/api/v1/me").status_code == 401


def test_login_needs_the_csrf_token(client: TestClient, db: Database, clock: ManualClock) -> None:
    make_staff(db, clock)
    client.get("/login")
    r = client.post("/login", data={"email": "agent@example.net", "password": PASSWORD})
    assert r.status_code == 403
    r = client.post(
        "/login", data={"email": "agent@example.net", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert r.status_code == 403


def test_signed_in_posts_need_the_csrf_token(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    make_staff(db, clock)
    login(client, "agent@example.net")
    assert client.post("/logout").status_code == 403
    assert client.get("/api/v1/me").status_code == 200  # still signed in


def test_throttling_by_email_then_recovery(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    make_staff(db, clock)
    for _ in range(5):
        assert _post_login(client, "agent@example.net", "bad password 1").status_code == 401
    r = _post_login(client, "agent@example.net", PASSWORD)  # even the right password waits
    assert r.status_code == 429 and "Too many failed sign-ins" in r.text
    clock.advance(__import__("datetime").timedelta(seconds=901))
    assert _post_login(client, "agent@example.net", PASSWORD).status_code == 303
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(LoginAttempt)) == 6


def test_throttling_by_client_address_across_emails(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    make_staff(db, clock)
    for i in range(20):
        assert _post_login(client, f"guess{i}@example.net", "x" * 12).status_code == 401
    assert _post_login(client, "agent@example.net", PASSWORD).status_code == 429


def test_open_redirects_are_refused(client: TestClient, db: Database, clock: ManualClock) -> None:
    make_staff(db, clock)
    token = csrf_from(client.get("/login").text)
    for target in ("https://evil.example", "//evil.example", "/\\evil.example", "/\t/evil.example"):
        r = client.post(
            "/login",
            data={
                "email": "agent@example.net",
                "password": PASSWORD,
                "csrf_token": token,
                "next": target,
            },
        )
        assert r.status_code == 303 and r.headers["location"] == "/"
        token = csrf_from(client.get("/login").text)


def test_session_cookie_flags(client: TestClient) -> None:
    r = client.get("/login")
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
