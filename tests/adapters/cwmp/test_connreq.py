"""Connection requests: an HTTP GET with digest auth to the CPE's ConnectionRequestURL, against
a real local HTTP server that checks the digest like a CPE does."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from homeport.adapters.cwmp import connreq, handlers
from homeport.core.settings import Settings
from homeport.health.remote import ActionQueued

USER, PASSWORD, REALM, NONCE = "hp-GW-1", "pw-123", "cpe", "n0nce"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324


class FakeCpeServer(BaseHTTPRequestHandler):
    hits: list[str] = []
    password = PASSWORD

    def do_GET(self) -> None:
        header = self.headers.get("Authorization", "")
        params = dict(re.findall(r'(\w+)="?([^",]+)"?', header))
        if header.startswith("Digest ") and params.get("username") == USER:
            ha1 = _md5(f"{USER}:{REALM}:{self.password}")
            ha2 = _md5(f"GET:{params['uri']}")
            want = _md5(f"{ha1}:{NONCE}:{params['nc']}:{params['cnonce']}:auth:{ha2}")
            if params.get("response") == want:
                self.hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self.send_response(401)
        self.send_header("WWW-Authenticate", f'Digest realm="{REALM}", nonce="{NONCE}", qop="auth"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def cpe_url() -> Iterator[str]:
    FakeCpeServer.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeCpeServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/cr"
    finally:
        server.shutdown()
        server.server_close()


def test_digest_connection_request(cpe_url: str) -> None:
    result = connreq.connection_request(cpe_url, USER, PASSWORD)
    assert (result.ok, result.status) == (True, 200)
    assert FakeCpeServer.hits == ["/cr"]


def test_wrong_credentials_and_unreachable(cpe_url: str) -> None:
    result = connreq.connection_request(cpe_url, USER, "wrong")
    assert (result.ok, result.status) == (False, 401)
    port = int(cpe_url.rsplit(":", 1)[1].split("/")[0])
    dead = connreq.connection_request(
        f"http://127.0.0.1:{port + 1}/cr", USER, PASSWORD, timeout_s=1
    )
    assert not dead.ok and dead.status is None and "cannot reach" in dead.reason
    assert not connreq.connection_request("file:///etc/passwd", USER, PASSWORD).ok


def test_queued_action_triggers_a_connection_request(cpe_url: str, settings: Settings) -> None:
    user, password = connreq.credentials(settings.effective_secret_key(), "GW-1")
    assert user == USER
    FakeCpeServer.password = password
    try:
        connreq.remember_url("GW-1", cpe_url)
        thread = handlers.on_action_queued(ActionQueued(1, 1, "GW-1", "reboot"), settings)
        assert thread is not None
        thread.join(timeout=10)
        assert FakeCpeServer.hits == ["/cr"]
        # A device whose URL this process never saw: nothing to call.
        assert handlers.on_action_queued(ActionQueued(2, 1, "GW-2", "reboot"), settings) is None
    finally:
        FakeCpeServer.password = PASSWORD
        connreq.remember_url("GW-1", "")
