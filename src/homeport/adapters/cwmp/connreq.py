"""Connection requests (TR-069 3.2.2): ask a CPE to open a session now.

An HTTP GET to the ConnectionRequestURL the CPE reported in its Inform, authenticated with
digest (or basic, when the CPE asks for it) using the connection-request credentials set on the
CPE (``ManagementServer.ConnectionRequestUsername`` / ``Password``). A 200 or 204 means the CPE
will call in; anything else (or no answer) means it waits for its next periodic Inform.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

_urls: dict[str, str] = {}
_lock = threading.Lock()


def remember_url(device_id: str, url: str) -> None:
    """Keep the ConnectionRequestURL a CPE reported (refreshed by every Inform)."""
    with _lock:
        if url:
            _urls[device_id] = url
        else:
            _urls.pop(device_id, None)


def known_url(device_id: str) -> str | None:
    with _lock:
        return _urls.get(device_id)


def credentials(secret: str, device_id: str) -> tuple[str, str]:
    """The connection-request username and password the ACS sets on a CPE: derived from the
    server secret, so nothing needs storing and every ACS process knows them."""
    digest = hmac.new(secret.encode(), f"cwmp-cr:{device_id}".encode(), hashlib.sha256)
    return f"hp-{device_id}", digest.hexdigest()[:24]


@dataclass(frozen=True)
class ConnectionRequestResult:
    ok: bool
    status: int | None
    reason: str


def connection_request(
    url: str, username: str, password: str, *, timeout_s: float = 5.0
) -> ConnectionRequestResult:
    """Send one connection request; never raises for a network or HTTP problem."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ConnectionRequestResult(False, None, f"not an http(s) URL: {url!r}")
    passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    passwords.add_password(None, url, username, password)
    opener = urllib.request.build_opener(
        urllib.request.HTTPDigestAuthHandler(passwords),
        urllib.request.HTTPBasicAuthHandler(passwords),
    )
    try:
        request = urllib.request.Request(url, method="GET")  # noqa: S310 (scheme checked above)
        with opener.open(request, timeout=timeout_s) as resp:
            status = int(resp.status)
    except urllib.error.HTTPError as exc:
        return ConnectionRequestResult(False, exc.code, f"the CPE answered {exc.code}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return ConnectionRequestResult(False, None, f"cannot reach the CPE: {reason}")
    ok = status in (200, 204)
    return ConnectionRequestResult(ok, status, "the CPE will call in" if ok else f"status {status}")
