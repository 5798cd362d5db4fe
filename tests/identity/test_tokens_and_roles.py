from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import ValidationFailed
from homeport.identity import actions
from homeport.identity.api import Access
from homeport.identity.models import ApiToken
from homeport.identity.schemas import Principal
from tests.conftest import TEST_ACTOR, csrf_from, login, make_staff


def _token(
    db: Database,
    clock: ManualClock,
    user_id: int,
    *scopes: str,
    expires_in: timedelta | None = None,
) -> str:
    with db.transaction() as s:
        _, secret = actions.create_api_token(
            s,
            user_id=user_id,
            scopes=list(scopes),
            actor=TEST_ACTOR,
            now=clock.now(),
            expires_at=clock.now() + expires_in if expires_in else None,
        )
    return secret


def test_token_is_hashed_at_rest_and_authenticates(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    user = make_staff(db, clock)
    secret = _token(db, clock, user.id, "read")
    with db.session() as s:
        row = s.scalar(select(ApiToken))
        assert row is not None and secret not in (row.token_hash, row.prefix, row.scopes)
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 200 and r.json()["email"] == "agent@example.net"
    with db.session() as s:
        assert s.scalar(select(ApiToken.last_used_at)) == clock.now()


@pytest.mark.parametrize("bad", ["", "hp_", "hp_abc_def", "garbage", "hp_x_y_z"])
def test_malformed_or_unknown_tokens_are_refused(client: TestClient, bad: str) -> None:
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {bad}"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_tampered_revoked_and_expired_tokens_are_refused(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    user = make_staff(db, clock)
    good = _token(db, clock, user.id, "read")
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {tampered}"}).status_code == 401
    )
    expiring = _token(db, clock, user.id, "read", expires_in=timedelta(hours=1))
    clock.advance(timedelta(hours=2))
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {expiring}"}).status_code == 401
    )
    with db.transaction() as s:
        token_id = s.scalar(select(ApiToken.id).order_by(ApiToken.id))
        assert token_id is not None
        actions.revoke_api_token(s, token_id=token_id, actor=TEST_ACTOR, now=clock.now())
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {good}"}).status_code == 401


def test_unknown_scopes_are_rejected(db: Database, clock: ManualClock) -> None:
    user = make_staff(db, clock)
    with pytest.raises(ValidationFailed, match="unknown scope"), db.transaction() as s:
        actions.create_api_token(
            s, user_id=user.id, scopes=["root"], actor=TEST_ACTOR, now=clock.now()
        )


def _probe_app(app: FastAPI) -> None:
    """Routes with each kind of declaration, to test the mechanism itself."""
    router = APIRouter()

    @router.get("/probe/supervisors")
    def supervisors(
        p: Annotated[Principal, Depends(Access.staff("supervisor", "admin"))],
    ) -> dict[str, str]:
        return {"role": str(p.role)}

    @router.post("/probe/write")
    def write(
        p: Annotated[Principal, Depends(Access.staff(scope="subscribers:write"))],
    ) -> dict[str, str]:
        return {"ok": "yes"}

    @router.get("/probe/portal")
    def portal(p: Annotated[Principal, Depends(Access.subscriber(page=False))]) -> dict[str, int]:
        return {"id": p.id}

    app.include_router(router)


def test_roles_and_scopes_limit_what_each_principal_may_do(
    app: FastAPI, db: Database, clock: ManualClock
) -> None:
    _probe_app(app)
    agent = make_staff(db, clock, email="agent@example.net", role="agent")
    boss = make_staff(db, clock, email="boss@example.net", role="supervisor")
    with TestClient(app, follow_redirects=False) as c:
        login(c, "agent@example.net")
        r = c.get("/probe/supervisors")
        assert r.status_code == 403 and "needs supervisor, admin" in r.json()["detail"]
        assert c.get("/probe/portal").status_code == 403  # staff are not subscribers
    with TestClient(app, follow_redirects=False) as c:
        login(c, "boss@example.net")
        assert c.get("/probe/supervisors").json() == {"role": "supervisor"}
        csrf = csrf_from(c.get("/login").text)
        assert c.post("/probe/write").status_code == 403  # no CSRF token
        assert c.post("/probe/write", headers={"X-CSRF-Token": csrf}).status_code == 200

    read_only = _token(db, clock, boss.id, "read")
    writer = _token(db, clock, agent.id, "subscribers:write")
    with TestClient(app, follow_redirects=False) as c:
        hdr = {"Authorization": f"Bearer {read_only}"}
        assert c.get("/probe/supervisors", headers=hdr).status_code == 200
        r = c.post("/probe/write", headers=hdr)  # tokens need no CSRF, but need the scope
        assert r.status_code == 403 and "subscribers:write" in r.json()["detail"]
        hdr = {"Authorization": f"Bearer {writer}"}
        assert c.post("/probe/write", headers=hdr).status_code == 200
        assert c.get("/probe/supervisors", headers=hdr).status_code == 403  # role still counts
        assert c.get("/api/v1/me", headers=hdr).status_code == 403  # no read scope


def test_secrets_containing_underscores_still_authenticate(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    user = make_staff(db, clock)
    # About half of all secrets contain "_"; 200 draws make missing one practically impossible.
    secret = next(
        s for s in (_token(db, clock, user.id, "read") for _ in range(200)) if s.count("_") > 2
    )
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 200, secret
