"""Inbound email over real SMTP on loopback: new cases, threading by In-Reply-To, References
and the subject tag, dedup, HTML sanitising, attachments, auto-replies and loops, size limits,
and nothing acknowledged that was not committed."""

from __future__ import annotations

import hashlib
import smtplib
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import event, select

from homeport.adapters.smtp.inbound import SenderLimit
from homeport.adapters.smtp.server import SmtpListener
from homeport.audit.actions import Actor
from homeport.audit.models import AuditEntry
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.support import actions
from homeport.support.models import Attachment, Case, Interaction
from tests.adapters.smtp.conftest import ALICE, LIMIT, SUPPORT, count, mail, metric, send
from tests.factories import Fleet

AGENT = Actor("staff", None, "tests")


def only_case(db: Database) -> Case:
    with db.session() as s:
        cases = s.scalars(select(Case)).all()
        assert len(cases) == 1
        return cases[0]


def emails(db: Database, case_id: int) -> list[Interaction]:
    with db.session() as s:
        return list(
            s.scalars(
                select(Interaction)
                .where(Interaction.case_id == case_id)
                .order_by(Interaction.started_at, Interaction.id)
            )
        )


def test_a_subscribers_email_opens_a_case(
    db: Database, listener: SmtpListener, fleet: Fleet
) -> None:
    before = metric("homeport_email_received_total", outcome="new_case")
    msg = mail(message_id="<first@example.test>")
    send(listener, msg)
    case = only_case(db)
    assert (case.subscriber_id, case.channel, case.origin) == (
        fleet.subscribers["FIL-0001"],
        "email",
        "reactive",
    )
    assert case.subject == "Internet drops" and case.contact == ""
    [first] = emails(db, case.id)
    assert (first.direction, first.author_kind, first.external_id, first.address) == (
        "inbound",
        "subscriber",
        "<first@example.test>",
        ALICE,
    )
    assert "dropping every evening" in first.body
    assert metric("homeport_email_received_total", outcome="new_case") == before + 1

    send(listener, mail(sender="stranger@elsewhere.test", subject="Do you serve my street?"))
    with db.session() as s:
        unknown = s.scalars(select(Case).where(Case.subscriber_id.is_(None))).one()
        assert unknown.contact == "stranger@elsewhere.test"


def test_replies_thread_by_in_reply_to_references_and_the_subject_tag(
    db: Database, listener: SmtpListener, clock: ManualClock
) -> None:
    send(listener, mail(message_id="<m1@example.test>"))
    case = only_case(db)
    with db.transaction() as s:
        actions.set_status(s, case.id, "pending_subscriber", now=clock.now(), actor=AGENT)

    send(
        listener,
        mail("Still dropping.", message_id="<m2@example.test>", In_Reply_To="<m1@example.test>"),
    )
    # A client that sends References only, the thread's latest id last.
    send(
        listener,
        mail(
            "And again tonight.",
            message_id="<m3@example.test>",
            References="<unknown@else.test> <m1@example.test> <m2@example.test>",
        ),
    )
    # No thread headers at all: the tag in the subject, from the case's subscriber.
    tagged = f"Re: Internet drops [Case #{case.id}]"
    send(listener, mail("Any news?", subject=tagged, message_id="<m4@example.test>"))
    thread = emails(db, case.id)
    assert [i.external_id for i in thread] == [f"<m{n}@example.test>" for n in (1, 2, 3, 4)]
    assert only_case(db).status == "open"  # the subscriber's answer resumed the case

    # The same tag from someone else opens a case of their own.
    send(listener, mail("Me too", sender="other@else.test", subject=tagged))
    with db.session() as s:
        assert s.scalar(select(Case.contact).where(Case.id != case.id)) == "other@else.test"


def test_a_redelivered_message_is_stored_once(db: Database, listener: SmtpListener) -> None:
    before = metric("homeport_email_received_total", outcome="duplicate")
    msg = mail(message_id="<same@example.test>")
    send(listener, msg)
    send(listener, msg)  # 250 again: the sending MTA stops retrying
    assert count(db, Interaction) == 1 and count(db, Case) == 1
    assert metric("homeport_email_received_total", outcome="duplicate") == before + 1


def test_html_is_sanitised_and_text_derived(db: Database, listener: SmtpListener) -> None:
    msg = mail()
    msg.set_content(
        "<html><head><style>p{color:red}</style></head><body>"
        "<p>Hello <b>team</b>,</p><script>alert('x')</script>"
        '<p><a href="https://status.example/" onclick="steal()">status</a> '
        '<a href="javascript:alert(1)">click</a></p>'
        '<img src="x" onerror="pwn()"></body></html>',
        subtype="html",
    )
    send(listener, msg)
    [item] = emails(db, only_case(db).id)
    html = item.body_html
    for bad in ("<script", "alert(", "onclick", "onerror", "javascript:", "<style"):
        assert bad not in html
    assert "<b>team</b>" in html and 'href="https://status.example/"' in html
    assert item.body.splitlines() == ["Hello team,", "", "status click"]


def test_attachments_are_stored_with_their_hash(db: Database, listener: SmtpListener) -> None:
    msg = mail("Photo of the router lights attached.")
    photo = bytes(range(256)) * 40
    msg.add_attachment(photo, maintype="image", subtype="png", filename="lights.png")
    msg.add_attachment(b"log line\n" * 10, maintype="text", subtype="plain", filename="router.log")
    send(listener, msg)
    with db.session() as s:
        rows = {a.filename: a for a in s.scalars(select(Attachment))}
    assert set(rows) == {"lights.png", "router.log"}
    assert rows["lights.png"].sha256 == hashlib.sha256(photo).hexdigest()
    assert rows["lights.png"].data == photo and rows["lights.png"].content_type == "image/png"
    assert rows["router.log"].size == 90
    [item] = emails(db, only_case(db).id)
    assert item.body.strip() == "Photo of the router lights attached."


def _automatic(kind: str) -> tuple[EmailMessage, str | None]:
    if kind == "auto-submitted":
        return mail("I am on holiday.", Auto_Submitted="auto-replied"), None
    if kind == "precedence":
        return mail("Out of office", Precedence="bulk"), None
    if kind == "x-autoreply":
        return mail("Out of office", X_Autoreply="yes"), None
    if kind == "list":
        return mail("Newsletter", List_Id="<news.example.test>"), None
    if kind == "bounce":
        return mail("Delivery failed", sender="mailer-daemon@mx.example.test"), ""
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["auto-submitted", "precedence", "x-autoreply", "list", "bounce"])
def test_automatic_mail_opens_no_case_and_is_kept_on_its_thread(
    db: Database, listener: SmtpListener, clock: ManualClock, kind: str
) -> None:
    before = metric("homeport_email_received_total", outcome="auto_dropped")
    msg, mail_from = _automatic(kind)
    send(listener, msg, mail_from=mail_from)
    assert count(db, Case) == 0 and count(db, Interaction) == 0
    assert metric("homeport_email_received_total", outcome="auto_dropped") == before + 1

    # On a live thread it is recorded for the agent, without reopening the case.
    send(listener, mail(message_id="<person@example.test>"))
    case = only_case(db)
    with db.transaction() as s:
        actions.set_status(s, case.id, "pending_subscriber", now=clock.now(), actor=AGENT)
    msg, mail_from = _automatic(kind)
    del msg["Message-ID"]
    msg["Message-ID"] = f"<auto-{kind}@example.test>"
    msg["In-Reply-To"] = "<person@example.test>"
    send(listener, msg, mail_from=mail_from)
    thread = emails(db, case.id)
    assert [(i.author_kind, i.external_id) for i in thread] == [
        ("subscriber", "<person@example.test>"),
        ("system", f"<auto-{kind}@example.test>"),
    ]
    assert thread[1].meta["automatic"]
    assert only_case(db).status == "pending_subscriber"


def test_our_own_mail_coming_back_is_dropped(db: Database, listener: SmtpListener) -> None:
    before = metric("homeport_email_received_total", outcome="loop_dropped")
    send(listener, mail("Re: your case", sender=SUPPORT))
    send(
        listener,
        mail("looped", sender="forwarder@else.test", message_id="<1.2.homeport-case9@bsp.example>"),
    )
    assert count(db, Case) == 0 and count(db, Interaction) == 0
    assert metric("homeport_email_received_total", outcome="loop_dropped") == before + 2


def test_a_sender_over_its_rate_limit_opens_no_more_cases(
    db: Database, listener: SmtpListener, clock: ManualClock
) -> None:
    listener.handler.limit = SenderLimit(limit=3, window=timedelta(minutes=10))
    for n in range(5):
        send(listener, mail(f"loop {n}", sender="bot@else.test"))
    assert count(db, Case) == 3
    clock.advance(timedelta(minutes=11))
    send(listener, mail("later", sender="bot@else.test"))
    assert count(db, Case) == 4


def test_a_reply_to_a_closed_case_opens_a_new_one(
    db: Database, listener: SmtpListener, clock: ManualClock
) -> None:
    send(listener, mail(message_id="<old@example.test>"))
    old = only_case(db)
    with db.transaction() as s:
        actions.set_status(s, old.id, "solved", now=clock.now(), actor=AGENT, outcome="remote_fix")
        actions.set_status(s, old.id, "closed", now=clock.now(), actor=AGENT)
    send(
        listener,
        mail("It is back.", message_id="<new@example.test>", In_Reply_To="<old@example.test>"),
    )
    with db.session() as s:
        new = s.scalars(select(Case).where(Case.id != old.id)).one()
        assert new.subscriber_id == old.subscriber_id and new.status == "new"
        assert f"#{old.id}" in new.description
    assert [i.external_id for i in emails(db, new.id)] == ["<new@example.test>"]


def test_oversized_mail_is_refused_with_552(db: Database, listener: SmtpListener) -> None:
    before = metric("homeport_email_rejected_total", code="552")
    big = mail(("x" * 70 + "\n") * (LIMIT // 70 + 100))
    # smtplib announces the size (MAIL FROM … SIZE=): refused before the data is sent.
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        send(listener, big)
    assert refused.value.smtp_code == 552
    # A client that does not announce it is refused after DATA.
    with smtplib.SMTP(listener.host, listener.port, timeout=15) as client:
        client.ehlo()
        assert client.mail(ALICE)[0] == 250
        assert client.rcpt(SUPPORT)[0] == 250
        code, said = client.data(big.as_string())
        assert code == 552, said
    assert count(db, Case) == 0
    assert metric("homeport_email_rejected_total", code="552") == before + 2


def test_a_database_failure_answers_451_and_writes_nothing(
    db: Database, listener: SmtpListener
) -> None:
    msg = mail("With a log", message_id="<retry@example.test>")
    msg.add_attachment(b"log", maintype="text", subtype="plain", filename="a.log")

    def fail_attachments(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO ATTACHMENTS"):
            raise RuntimeError("disk full")

    before = metric("homeport_email_rejected_total", code="451")
    event.listen(db.engine, "before_cursor_execute", fail_attachments)
    try:
        with pytest.raises(smtplib.SMTPDataError) as deferred:
            send(listener, msg)
    finally:
        event.remove(db.engine, "before_cursor_execute", fail_attachments)
    assert deferred.value.smtp_code == 451
    assert metric("homeport_email_rejected_total", code="451") == before + 1
    # Case, interaction and audit entries were in the same transaction: none is left.
    assert count(db, Case) == 0 and count(db, Interaction) == 0 and count(db, AuditEntry) == 0

    send(listener, msg)  # the sending MTA retries
    case = only_case(db)
    assert [i.external_id for i in emails(db, case.id)] == ["<retry@example.test>"]
    assert count(db, Attachment) == 1
