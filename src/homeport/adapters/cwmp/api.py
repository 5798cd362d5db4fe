"""``POST /cwmp``: the ACS URL CPEs are pointed at.

The route is public to Homeport's staff/subscriber access layer: the ACS authenticates devices
itself (HTTP basic or digest against ``device_credentials``) when a session starts with an
Inform. A 401 challenge is only ever sent there, before a session exists; within a session
(identified by the ``cwmp_session`` cookie, or by the device for CPEs that ignore cookies)
every answer is 200 with a SOAP envelope or the empty 204 that ends the session.
"""

from __future__ import annotations

import logging
import secrets
import threading
from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from homeport.adapters.cwmp import acs, auth, connreq, soap
from homeport.identity.api import Access

log = logging.getLogger(__name__)

router = APIRouter()
COOKIE = "cwmp_session"
IDLE_TIMEOUT = timedelta(minutes=5)
XML = 'text/xml; charset="utf-8"'


class SessionStore:
    """Live CWMP sessions of this process, by cookie token and by device username."""

    def __init__(self) -> None:
        self._by_token: dict[str, acs.CwmpSession] = {}
        self._by_user: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, token: str | None, now: datetime) -> acs.CwmpSession | None:
        with self._lock:
            self._expire(now)
            return self._by_token.get(token) if token else None

    def for_user(self, username: str, now: datetime) -> acs.CwmpSession | None:
        with self._lock:
            self._expire(now)
            token = self._by_user.get(username)
            return self._by_token.get(token) if token else None

    def add(self, sess: acs.CwmpSession) -> None:
        with self._lock:
            old = self._by_user.pop(sess.username, None)
            if old:
                self._by_token.pop(old, None)
            self._by_token[sess.token] = sess
            self._by_user[sess.username] = sess.token

    def drop(self, sess: acs.CwmpSession) -> None:
        with self._lock:
            self._by_token.pop(sess.token, None)
            if self._by_user.get(sess.username) == sess.token:
                self._by_user.pop(sess.username, None)

    def __len__(self) -> int:
        return len(self._by_token)

    def _expire(self, now: datetime) -> None:
        for token, sess in list(self._by_token.items()):
            if now - sess.last_seen_at > IDLE_TIMEOUT:
                self._by_token.pop(token, None)
                if self._by_user.get(sess.username) == token:
                    self._by_user.pop(sess.username, None)


_store_lock = threading.Lock()


def sessions_of(request: Request) -> SessionStore:
    """The app's session store (created once, even when the first CPEs call in together)."""
    with _store_lock:
        store: SessionStore | None = getattr(request.app.state, "cwmp_sessions", None)
        if store is None:
            store = request.app.state.cwmp_sessions = SessionStore()
        return store


def _challenge(request: Request, now: datetime, reason: str, *, stale: bool = False) -> Response:
    secret = request.app.state.settings.effective_secret_key()
    response = Response(reason, status_code=401, media_type="text/plain")
    for value in auth.challenge_headers(secret, now, stale=stale):
        response.headers.append("WWW-Authenticate", value)
    return response


def _reply(body: bytes | None, sess: acs.CwmpSession, store: SessionStore) -> Response:
    if body is None:
        store.drop(sess)
        log.info(
            "cwmp session of %s ended: %d report(s) stored; %s",
            sess.device_id,
            sess.stored,
            "; ".join(sess.notes) or "no notes",
        )
        return Response(status_code=204)
    return Response(body, status_code=200, media_type=XML)


def _serve(request: Request, body: bytes) -> Response:
    now: datetime = request.app.state.clock.now()
    store = sessions_of(request)
    sess = store.get(request.cookies.get(COOKIE), now)
    msg: soap.Message | None = None
    try:
        msg = soap.parse(body) if body.strip() else None
    except soap.SoapError as exc:
        if sess is None:
            return Response(f"not a CWMP message: {exc}", status_code=400, media_type="text/plain")
        sess.notes.append(f"unreadable message ({exc}); session ended")
        return _reply(None, sess, store)
    if sess is not None and (msg is None or msg.method != "Inform"):
        return _continue(request, sess, msg, store, now)
    # A new session (an Inform), or a CPE that ignores cookies: authenticate the device.
    header = request.headers.get("authorization", "")
    db = request.app.state.db
    secret = request.app.state.settings.effective_secret_key()
    with db.session() as session:
        cred, refusal = auth.authenticate(
            session, header, method=request.method, secret=secret, now=now
        )
    if cred is None:
        assert refusal is not None
        return _challenge(request, now, refusal.reason, stale=refusal.stale)
    username = cred.username or ""
    if msg is None or msg.method != "Inform":
        sess = store.for_user(username, now)
        if sess is None:
            return Response(status_code=204)  # no session to continue: end cleanly
        return _continue(request, sess, msg, store, now)
    sess = acs.CwmpSession(
        token=secrets.token_urlsafe(24),
        device_id=cred.device_id,
        username=username,
        started_at=now,
        last_seen_at=now,
    )
    reply = acs.start(sess, msg)
    connreq.remember_url(sess.device_id, sess.connection_request_url)
    store.add(sess)
    response = Response(reply, status_code=200, media_type=XML)
    response.set_cookie(COOKIE, sess.token, httponly=True, samesite="strict", path="/cwmp")
    return response


def _continue(
    request: Request,
    sess: acs.CwmpSession,
    msg: soap.Message | None,
    store: SessionStore,
    now: datetime,
) -> Response:
    sess.last_seen_at = now
    ctx = acs.Context(request.app.state.db, request.app.state.settings, now)
    try:
        reply = acs.handle(sess, msg, ctx)
    except Exception:
        # Never a 5xx mid-session: end it cleanly; the CPE calls in again at its next Inform.
        log.exception("cwmp session of %s failed; ending it", sess.device_id)
        sess.notes.append("internal error; session ended")
        reply = None
    return _reply(reply, sess, store)


@router.post(
    "/cwmp",
    dependencies=[Depends(Access.public())],
    include_in_schema=False,
    response_class=Response,
)
async def cwmp(request: Request) -> Response:
    """One HTTP POST of a CWMP session."""
    body = await request.body()
    return await run_in_threadpool(_serve, request, body)
