"""Device authentication for the ACS: HTTP basic or digest (RFC 7616, MD5, qop=auth) against
``device_credentials`` (a username and the digest HA1 ``md5(username:realm:password)``).

Nonces are stateless: ``<unix time>.<hmac>`` signed with the server secret and valid for
:data:`NONCE_TTL_S`, so several ingest processes accept each other's nonces.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.telemetry.models import DeviceCredential

REALM = "homeport"
NONCE_TTL_S = 300
_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def make_ha1(username: str, password: str, realm: str = REALM) -> str:
    """The HA1 to store for a device (the password itself is never stored)."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).hexdigest()  # noqa: S324


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324


@dataclass(frozen=True)
class Challenge:
    """Why a request was refused, and whether the nonce only went stale."""

    reason: str
    stale: bool = False


def make_nonce(secret: str, now: datetime) -> str:
    stamp = str(int(now.timestamp()))
    sig = hmac.new(secret.encode(), stamp.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{stamp}.{sig}"


def challenge_headers(secret: str, now: datetime, *, stale: bool = False) -> list[str]:
    """``WWW-Authenticate`` values: digest first (preferred), then basic."""
    digest = (
        f'Digest realm="{REALM}", qop="auth", algorithm=MD5, '
        f'nonce="{make_nonce(secret, now)}", opaque="cwmp"'
    )
    if stale:
        digest += ", stale=true"
    return [digest, f'Basic realm="{REALM}"']


def _nonce_problem(secret: str, nonce: str, now: datetime) -> Challenge | None:
    """None for a nonce this server issued less than :data:`NONCE_TTL_S` ago."""
    stamp, _, sig = nonce.partition(".")
    want = hmac.new(secret.encode(), stamp.encode(), hashlib.sha256).hexdigest()[:32]
    if not stamp.isdigit() or not hmac.compare_digest(want, sig):
        return Challenge("a nonce this server did not issue")
    if not 0 <= now.timestamp() - int(stamp) <= NONCE_TTL_S:
        return Challenge("stale nonce", stale=True)
    return None


def _credential(session: Session, username: str, now: datetime) -> DeviceCredential | None:
    cred = session.scalar(select(DeviceCredential).where(DeviceCredential.username == username))
    if cred is None or cred.digest_ha1 is None:
        return None
    if cred.revoked_at is not None and cred.revoked_at <= now:
        return None
    return cred


def authenticate(
    session: Session, header: str, *, method: str, secret: str, now: datetime
) -> tuple[DeviceCredential | None, Challenge | None]:
    """The device's credential, or why it is refused (answer 401 with a challenge)."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, Challenge("malformed basic credentials")
        username, sep, password = decoded.partition(":")
        cred = _credential(session, username, now) if sep else None
        if cred is None or not hmac.compare_digest(
            make_ha1(username, password), cred.digest_ha1 or ""
        ):
            return None, Challenge("unknown device or wrong password")
        return cred, None
    if scheme.lower() == "digest":
        params = {m[0].lower(): m[1] or m[2] for m in _PARAM.findall(rest)}
        needed = ("username", "realm", "nonce", "uri", "response")
        if any(k not in params for k in needed):
            return None, Challenge("incomplete digest credentials")
        if params["realm"] != REALM:
            return None, Challenge("wrong realm")
        if params.get("algorithm", "MD5").upper() != "MD5":
            return None, Challenge("only the MD5 digest algorithm is supported")
        cred = _credential(session, params["username"], now)
        if cred is None:
            return None, Challenge("unknown device or wrong password")
        ha2 = _md5(f"{method}:{params['uri']}")
        qop = params.get("qop")
        if qop == "auth":
            if "nc" not in params or "cnonce" not in params:
                return None, Challenge("incomplete digest credentials")
            expected = _md5(
                f"{cred.digest_ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:auth:{ha2}"
            )
        elif qop is None:
            expected = _md5(f"{cred.digest_ha1}:{params['nonce']}:{ha2}")
        else:
            return None, Challenge(f"unsupported qop {qop}")
        if not hmac.compare_digest(expected, params["response"].lower()):
            return None, Challenge("unknown device or wrong password")
        problem = _nonce_problem(secret, params["nonce"], now)
        return (None, problem) if problem else (cred, None)
    return None, Challenge("authentication required")
