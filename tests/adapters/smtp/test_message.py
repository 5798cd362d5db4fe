"""Reading messages without the network: attachment limits, bodies without a text part, no
Message-ID, and the listen address."""

from __future__ import annotations

import pytest

from homeport.adapters.smtp.message import MAX_ATTACHMENTS, parse
from homeport.adapters.smtp.server import parse_listen
from homeport.support.actions import MAX_ATTACHMENT
from tests.adapters.smtp.conftest import ALICE, SUPPORT, mail


def test_attachments_over_the_limits_are_listed_not_kept() -> None:
    msg = mail("See attached.")
    msg.add_attachment(
        b"\0" * (MAX_ATTACHMENT + 1), maintype="application", subtype="zip", filename="huge.zip"
    )
    for n in range(MAX_ATTACHMENTS + 1):
        msg.add_attachment(b"x", maintype="text", subtype="plain", filename=f"f{n}.txt")
    read = parse(msg.as_bytes(), return_path=ALICE, support_email=SUPPORT)
    assert [a.filename for a in read.attachments] == [f"f{n}.txt" for n in range(MAX_ATTACHMENTS)]
    assert len(read.omitted) == 2
    assert "[attachment not kept: huge.zip (10.0 MB): larger than 10 MB]" in read.text
    assert f"f{MAX_ATTACHMENTS}.txt: more than {MAX_ATTACHMENTS} attachments" in read.text


def test_a_message_without_message_id_is_named_by_its_bytes() -> None:
    msg = mail()
    del msg["Message-ID"]
    raw = msg.as_bytes()
    first = parse(raw, return_path=ALICE, support_email=SUPPORT)
    assert first.message_id.startswith("<sha256.") and first.kind == ""
    assert parse(raw, return_path=ALICE, support_email=SUPPORT).message_id == first.message_id


def test_a_person_is_not_mistaken_for_a_machine() -> None:
    raw = mail(Auto_Submitted="no").as_bytes()
    raw = raw.replace(b"Subject:", b"References: <a@x.test>\r\n <b@x.test>\r\nSubject:", 1)
    read = parse(raw, return_path=ALICE, support_email=SUPPORT)
    assert (read.kind, read.reason) == ("", "")
    assert read.thread_ids == ["<b@x.test>", "<a@x.test>"]


def test_listen_addresses() -> None:
    assert parse_listen("192.0.2.1:25") == ("192.0.2.1", 25)
    assert parse_listen("[::1]:2525") == ("::1", 2525)
    assert parse_listen(":2525") == ("127.0.0.1", 2525)
    for bad in ("localhost", "host:smtp", "host:70000"):
        with pytest.raises(ValueError, match="host:port"):
            parse_listen(bad)
