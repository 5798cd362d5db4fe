"""Device authentication (basic, digest) and the session rules around it: a 401 challenge only
before a session exists, never within one; an empty 204 ends a session."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import httpx2 as httpx
from sqlalchemy import select
from starlette.testclient import TestClient

from homeport.adapters.cwmp.auth import REALM, make_nonce
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.telemetry.models import TelemetryReport
from tests.adapters.cwmp.conftest import GW181, add_credential
from tests.adapters.cwmp.cpe import captured, envelope, inform, parse_acs
from tests.adapters.cwmp.test_sessions import tr181_cpe
from tests.factories import Fleet

D = "Device."
SECRET = "test-secret-key-not-for-production"


def _inform() -> bytes:
    return inform(D, {"DeviceInfo.SoftwareVersion": "4.2.1"})


def test_no_credentials_get_a_challenge(cpe_client: TestClient) -> None:
    resp = cpe_client.post("/cwmp", content=_inform())
    assert resp.status_code == 401
    challenges = resp.headers.get_list("www-authenticate")
    assert challenges[0].startswith(f'Digest realm="{REALM}", qop="auth"')
    assert challenges[1] == f'Basic realm="{REALM}"'
    assert "cwmp_session" not in cpe_client.cookies


def test_wrong_password_and_unknown_device(cpe_client: TestClient) -> None:
    for user, password in (("cpe-181", "wrong"), ("nobody", "s3cret-181"), ("cpe-181", "")):
        resp = cpe_client.post("/cwmp", content=_inform(), auth=httpx.BasicAuth(user, password))
        assert resp.status_code == 401
        assert resp.text == "unknown device or wrong password"


def test_revoked_credential(
    cpe_client: TestClient, db: Database, fleet: Fleet, clock: ManualClock
) -> None:
    add_credential(db, "GW-000103", "cpe-old", "pw", clock.now(), revoked_at=clock.now())
    resp = cpe_client.post("/cwmp", content=_inform(), auth=httpx.BasicAuth("cpe-old", "pw"))
    assert resp.status_code == 401


def test_digest_session(cpe_client: TestClient, db: Database) -> None:
    auth = httpx.DigestAuth("cpe-181", "s3cret-181")
    resp = cpe_client.post("/cwmp", content=_inform(), auth=auth)
    assert resp.status_code == 200
    assert parse_acs(resp.content)[1] == "InformResponse"
    # Within the session the cookie identifies the CPE: a broken Authorization header (or none)
    # never gets a 401 mid-session.
    resp = cpe_client.post("/cwmp", content=b"", headers={"authorization": "Basic Zm9vOmJhcg=="})
    assert resp.status_code == 200
    assert parse_acs(resp.content)[1] == "GetParameterNames"
    cpe = tr181_cpe()
    for _ in range(30):
        resp = cpe_client.post("/cwmp", content=cpe.answer(resp.content))
        if resp.status_code == 204:
            break
        assert resp.status_code == 200
    assert resp.status_code == 204
    with db.session() as session:
        assert session.scalars(select(TelemetryReport.device_id)).all() == [GW181]


def _digest_header(nonce: str, password: str = "s3cret-181") -> str:  # noqa: S107
    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()  # noqa: S324

    ha1 = md5(f"cpe-181:{REALM}:{password}")
    response = md5(f"{ha1}:{nonce}:00000001:abc:auth:{md5('POST:/cwmp')}")
    return (
        f'Digest username="cpe-181", realm="{REALM}", nonce="{nonce}", uri="/cwmp", '
        f'response="{response}", qop=auth, nc=00000001, cnonce="abc", algorithm=MD5'
    )


def test_stale_and_forged_nonces(cpe_client: TestClient, clock: ManualClock) -> None:
    old = make_nonce(SECRET, clock.now() - timedelta(minutes=10))
    resp = cpe_client.post(
        "/cwmp", content=_inform(), headers={"authorization": _digest_header(old)}
    )
    assert resp.status_code == 401
    assert "stale=true" in resp.headers.get_list("www-authenticate")[0]
    forged = f"{int(clock.now().timestamp())}.{'0' * 32}"
    resp = cpe_client.post(
        "/cwmp", content=_inform(), headers={"authorization": _digest_header(forged)}
    )
    assert resp.status_code == 401 and "stale" not in resp.headers["www-authenticate"]
    fresh = make_nonce(SECRET, clock.now())
    resp = cpe_client.post(
        "/cwmp", content=_inform(), headers={"authorization": _digest_header(fresh, "nope")}
    )
    assert resp.status_code == 401
    resp = cpe_client.post(
        "/cwmp", content=_inform(), headers={"authorization": _digest_header(fresh)}
    )
    assert resp.status_code == 200


def test_bad_messages(cpe_client: TestClient) -> None:
    auth = httpx.BasicAuth("cpe-181", "s3cret-181")
    # Before a session: a plain 400 with the reason.
    resp = cpe_client.post("/cwmp", content=b"<not-xml", auth=auth)
    assert resp.status_code == 400 and "not well-formed" in resp.text
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    resp = cpe_client.post("/cwmp", content=bomb, auth=auth)
    assert resp.status_code == 400 and "document type" in resp.text
    # An authenticated empty POST with no session: nothing to continue, end cleanly.
    resp = cpe_client.post("/cwmp", content=b"", auth=auth)
    assert resp.status_code == 204
    # Mid-session garbage: the session ends with a 204, never an error status.
    assert cpe_client.post("/cwmp", content=_inform(), auth=auth).status_code == 200
    resp = cpe_client.post("/cwmp", content=b"<garbage")
    assert (resp.status_code, resp.content) == (204, b"")
    # The session is gone: a stray empty POST without credentials is challenged again.
    assert cpe_client.post("/cwmp", content=b"").status_code == 401


def test_cpe_requests_and_unknown_methods(cpe_client: TestClient) -> None:
    auth = httpx.BasicAuth("cpe-181", "s3cret-181")
    assert cpe_client.post("/cwmp", content=_inform(), auth=auth).status_code == 200
    resp = cpe_client.post("/cwmp", content=envelope("g1", "<cwmp:GetRPCMethods/>"))
    msg_id, method, elem = parse_acs(resp.content)
    assert (resp.status_code, msg_id, method) == (200, "g1", "GetRPCMethodsResponse")
    assert "Inform" in [s.text for s in elem.iter("string")]
    resp = cpe_client.post("/cwmp", content=envelope("r1", "<cwmp:RequestDownload/>"))
    assert resp.status_code == 200
    assert parse_acs(resp.content)[1] == "Fault" and b"<FaultCode>8000</FaultCode>" in resp.content


def test_cpe_without_cookies(cwmp_app: object, fleet: Fleet, db: Database) -> None:
    """Some CPEs drop cookies: the session continues by the authenticated device."""
    first = captured(1)
    headers = {"authorization": first.headers["authorization"]}
    with TestClient(cwmp_app, base_url="http://acs.test", cookies=None) as client:  # type: ignore[arg-type]
        assert client.post("/cwmp", content=first.body, headers=headers).status_code == 200
        client.cookies.clear()
        resp = client.post("/cwmp", content=b"", headers=headers)
        assert resp.status_code == 200 and parse_acs(resp.content)[1] == "GetParameterNames"
