"""``POST /api/v1/imports/{kind}``: uploads, raw bodies, errors, limits and who may import."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from homeport.adapters.csv_import import api
from homeport.audit.models import AuditEntry
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.identity import actions as identity_actions
from tests.adapters.csv_import.conftest import fixture, make_bundles, snapshot
from tests.conftest import TEST_ACTOR, login, make_staff

URL = "/api/v1/imports"


def _token(db: Database, clock: ManualClock, *, role: str, scopes: list[str]) -> dict[str, str]:
    user = make_staff(db, clock, email=f"{role}@example.net", role=role)
    with db.transaction() as s:
        _, secret = identity_actions.create_api_token(
            s, user_id=user.id, scopes=scopes, actor=TEST_ACTOR, now=clock.now()
        )
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def admin(db: Database, clock: ManualClock) -> dict[str, str]:
    return _token(db, clock, role="admin", scopes=["import"])


def test_multipart_upload_imports_and_audits(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    r = client.post(
        f"{URL}/plans",
        headers=admin,
        files={"file": ("billing/plans-2026.csv", fixture("plans.csv"), "text/csv")},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "kind": "plans",
        "file": "plans-2026.csv",
        "rows": 5,
        "created": 5,
        "updated": 0,
        "unchanged": 0,
        "dry_run": False,
        "entities": {"plan": {"created": 5, "updated": 0, "unchanged": 0}},
    }
    with db.session() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "import.completed"))
        assert entry is not None and entry.actor_kind == "token"
        assert entry.detail["file"] == "plans-2026.csv"


def test_raw_csv_body_and_dry_run(client: TestClient, db: Database, admin: dict[str, str]) -> None:
    headers = {**admin, "Content-Type": "text/csv; charset=utf-8"}
    before = snapshot(db)
    r = client.post(
        f"{URL}/plans?dry_run=true&filename=plans.csv",
        headers=headers,
        content=fixture("plans.csv"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["dry_run"] is True and r.json()["created"] == 5
    assert r.json()["file"] == "plans.csv"
    assert snapshot(db) == before
    r = client.post(f"{URL}/plans", headers=headers, content=fixture("plans.csv"))
    assert r.status_code == 200 and r.json()["file"] == "plans.csv"
    r = client.post(f"{URL}/plans", headers=headers, content=fixture("plans.csv"))
    assert r.json()["unchanged"] == 5


def test_a_bad_file_answers_422_with_every_error(
    client: TestClient, db: Database, clock: ManualClock, admin: dict[str, str]
) -> None:
    make_bundles(db, clock)
    client.post(f"{URL}/plans", headers=admin, files={"file": ("p.csv", fixture("plans.csv"))})
    before = snapshot(db)
    data = (
        b"account_number,name,email,plan_code,status,journey_stage\n"
        b"A-1,Ann,ann@,FTTP-900,active,established\n"
        b"A-2,Bob,,NOPE,active,established\n"
    )
    r = client.post(f"{URL}/subscribers", headers=admin, files={"file": ("s.csv", data)})
    assert r.status_code == 422
    assert r.json() == {
        "detail": "s.csv: 2 errors; nothing was imported",
        "errors": [
            {"line": 2, "field": "email", "message": "'ann@' is not an e-mail address"},
            {"line": 3, "field": "plan_code", "message": "no plan with code 'NOPE'"},
        ],
    }
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"", "file"),
        (b"code,name\n", "header"),
        (b"code,name,down_mbps,up_mbps,monthly_price\nP,Caf\xe9,1,1,1\n", "file"),
    ],
)
def test_empty_wrong_and_non_utf8_files_are_422(
    client: TestClient, admin: dict[str, str], data: bytes, field: str
) -> None:
    r = client.post(f"{URL}/plans", headers={**admin, "Content-Type": "text/csv"}, content=data)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == field


def test_a_multipart_request_needs_the_file_field(
    client: TestClient, admin: dict[str, str]
) -> None:
    r = client.post(
        f"{URL}/plans", headers=admin, data={"other": "x"}, files={"upload": ("p.csv", b"x")}
    )
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {
            "line": None,
            "field": "file",
            "message": "send the CSV file in the multipart field 'file'",
        }
    ]


def test_other_content_types_are_415(client: TestClient, admin: dict[str, str]) -> None:
    r = client.post(f"{URL}/plans", headers=admin, json={"code": "P"})
    assert r.status_code == 415 and "multipart/form-data" in r.json()["detail"]


def test_unknown_kind_is_422(client: TestClient, admin: dict[str, str]) -> None:
    r = client.post(
        f"{URL}/gateways", headers={**admin, "Content-Type": "text/csv"}, content=b"x\n"
    )
    assert r.status_code == 422


def test_files_over_the_limit_are_413(
    client: TestClient, db: Database, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "MAX_UPLOAD_BYTES", 100)
    big = fixture("plans.csv")
    assert len(big) > 100
    before = snapshot(db)
    raw = {**admin, "Content-Type": "text/csv"}
    answers = [
        client.post(f"{URL}/plans", headers=admin, files={"file": ("p.csv", big)}),
        client.post(f"{URL}/plans", headers=raw, content=big),
        # Chunked, without a Content-Length: counted as it streams in.
        client.post(f"{URL}/plans", headers=raw, content=iter([big[:60], big[60:]])),
    ]
    for r in answers:
        assert r.status_code == 413, r.text
        assert "limit" in r.json()["detail"] and "split it" in r.json()["detail"]
    assert snapshot(db) == before


def test_anonymous_is_401(client: TestClient) -> None:
    r = client.post(
        f"{URL}/plans", content=fixture("plans.csv"), headers={"Content-Type": "text/csv"}
    )
    assert r.status_code == 401


def test_an_agent_may_not_import_even_with_the_scope(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    headers = _token(db, clock, role="agent", scopes=["import"])
    r = client.post(f"{URL}/plans", headers=headers, files={"file": ("p.csv", b"x")})
    assert r.status_code == 403 and "needs admin, supervisor" in r.json()["detail"]


def test_a_token_needs_the_import_scope(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    read_only = _token(db, clock, role="admin", scopes=["read"])
    r = client.post(f"{URL}/plans", headers=read_only, files={"file": ("p.csv", b"x")})
    assert r.status_code == 403 and "scope import" in r.json()["detail"]
    supervisor = _token(db, clock, role="supervisor", scopes=["import"])
    r = client.post(
        f"{URL}/plans", headers=supervisor, files={"file": ("p.csv", fixture("plans.csv"))}
    )
    assert r.status_code == 200 and r.json()["created"] == 5


def test_a_signed_in_supervisor_imports_with_the_csrf_token(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    user = make_staff(db, clock, email="sup@example.net", role="supervisor")
    csrf = login(client, "sup@example.net")
    files = {"file": ("p.csv", fixture("plans.csv"))}
    assert client.post(f"{URL}/plans", files=files).status_code == 403  # no CSRF token
    r = client.post(f"{URL}/plans", files=files, data={"csrf_token": csrf})
    assert r.status_code == 200 and r.json()["created"] == 5
    with db.session() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "import.completed"))
        assert entry is not None and (entry.actor_kind, entry.actor_id) == ("staff", user.id)
