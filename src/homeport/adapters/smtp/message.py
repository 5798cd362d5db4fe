"""Reading one inbound email: addresses, thread ids, a plain-text body (derived from the HTML
when only HTML was sent), the HTML sanitised with nh3, attachments within size limits, and
whether a machine sent it (auto-reply, bounce, list) or it is our own mail come back (a loop).

Parsing is lenient: a malformed header or an unknown charset degrades to what can be read;
it never rejects a message a person wrote.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser
from typing import Any

import nh3

from homeport.support.actions import MAX_ATTACHMENT, NewAttachment
from homeport.support.outbound import MSGID_MARK, domain_of

#: Most attachments kept from one message; the rest are listed as omitted.
MAX_ATTACHMENTS = 20
_MSGID = re.compile(r"<[^<>\s]{1,250}>")
#: ``Precedence`` values that mark mail no person wrote to us (RFC 3834 section 2).
_BULK = {"bulk", "junk", "list", "auto_reply", "auto-reply"}
_BOUNCE_SENDERS = {"mailer-daemon", "postmaster"}
_BLOCK = {
    "p",
    "div",
    "br",
    "tr",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "table",
    "ul",
    "ol",
    "hr",
}


@dataclass(frozen=True)
class InboundMail:
    message_id: str
    sender: str  # the From address, lower case
    sender_name: str
    return_path: str  # the envelope sender (MAIL FROM); "" for a bounce
    subject: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    text: str
    html: str  # sanitised
    attachments: tuple[NewAttachment, ...] = ()
    omitted: tuple[str, ...] = ()
    #: "" for mail a person wrote; else "auto" (auto-reply, bounce, list) or "loop".
    kind: str = ""
    reason: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def thread_ids(self) -> list[str]:
        """Ids this message answers, most specific first: In-Reply-To, then References from
        the latest back."""
        return list(dict.fromkeys([*self.in_reply_to, *reversed(self.references)]))


class _Text(HTMLParser):
    """Visible text of an HTML body, one line per block element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self._skip += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [
        re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in "".join(parser.parts).split("\n")
    ]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def sanitise_html(html: str) -> str:
    """Keep formatting, drop scripts, event handlers, styles and unsafe URLs (nh3 defaults:
    no ``javascript:``), links open without a referrer."""
    return nh3.clean(
        html,
        url_schemes={"http", "https", "mailto", "cid"},
        link_rel="noopener noreferrer nofollow",
    ).strip()


def message_ids(value: str | None) -> tuple[str, ...]:
    return tuple(_MSGID.findall(value or ""))


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a header the parser cannot read counts as absent
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _content(part: Message) -> str:
    try:
        if isinstance(part, EmailMessage):
            value = part.get_content()
            if isinstance(value, str):
                return value
    except (LookupError, UnicodeError, ValueError, AssertionError):
        pass
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        charset = part.get_content_charset() or "utf-8"
        try:
            return payload.decode(charset, errors="replace")
        except LookupError:
            return payload.decode("utf-8", errors="replace")
    return ""


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    return (name or "").strip().replace("/", "_").replace("\\", "_")[:255]


def _leaves(msg: Message) -> list[Message]:
    """Leaf parts in order; an attached message (message/rfc822) is one leaf."""
    if msg.is_multipart() and msg.get_content_maintype() == "multipart":
        out: list[Message] = []
        for part in msg.get_payload():
            if isinstance(part, Message):
                out.extend(_leaves(part))
        return out
    return [msg]


def _bytes_of(part: Message) -> bytes:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return inner[0].as_bytes()
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def automatic(
    msg: Message, *, return_path: str, sender: str, message_id: str, support_email: str
) -> tuple[str, str]:
    """("loop" | "auto" | "", reason): our own mail back, mail a machine sent, or a person's."""
    own_domain = domain_of(support_email)
    if sender and sender == support_email.lower():
        return "loop", "sent from our own support address"
    if own_domain and domain_of(message_id) == own_domain and MSGID_MARK in message_id:
        return "loop", "our own Message-ID"
    auto_submitted = _header(msg, "Auto-Submitted").lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return "auto", f"Auto-Submitted: {auto_submitted}"
    precedence = _header(msg, "Precedence").lower()
    if precedence in _BULK:
        return "auto", f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if _header(msg, name):
            return "auto", name
    if _header(msg, "List-Id"):
        return "auto", "List-Id (a mailing list)"
    rp = return_path.strip().strip("<>").lower()
    if not rp:
        return "auto", "empty return path (a bounce)"
    if rp.partition("@")[0] in _BOUNCE_SENDERS or sender.partition("@")[0] in _BOUNCE_SENDERS:
        return "auto", "from MAILER-DAEMON (a bounce)"
    if msg.get_content_type() == "multipart/report":
        return "auto", "delivery report"
    return "", ""


def parse(raw: bytes, *, return_path: str, support_email: str) -> InboundMail:
    """Read a message as received (``raw``: the DATA bytes); ``return_path`` is the envelope
    sender. A message without a Message-ID is named by the hash of its bytes, so that an
    identical redelivery is still recognised."""
    msg = message_from_bytes(raw, policy=policy.default)
    name, address = parseaddr(_header(msg, "From"))
    sender = address.strip().lower()
    ids = message_ids(_header(msg, "Message-ID"))
    message_id = ids[0] if ids else f"<sha256.{hashlib.sha256(raw).hexdigest()}@homeport>"
    subject = _header(msg, "Subject")[:300]

    text_part: Message | None = None
    html_part: Message | None = None
    if isinstance(msg, EmailMessage):
        try:
            text_part = msg.get_body(preferencelist=("plain",))
            html_part = msg.get_body(preferencelist=("html",))
        except Exception:
            text_part = html_part = None
    if text_part is None and html_part is None and msg.get_content_maintype() == "text":
        text_part = msg if msg.get_content_subtype() != "html" else None
        html_part = msg if msg.get_content_subtype() == "html" else None
    html = sanitise_html(_content(html_part)) if html_part is not None else ""
    text = _content(text_part).strip() if text_part is not None else html_to_text(html)

    attachments: list[NewAttachment] = []
    omitted: list[str] = []
    for part in _leaves(msg):
        if part is text_part or part is html_part:
            continue
        filename = _filename(part)
        ctype = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        if ctype in ("text/plain", "text/html") and not filename and disposition != "attachment":
            continue  # another rendering of the body
        if ctype.startswith("multipart/"):
            continue
        data = _bytes_of(part)
        if not filename:
            filename = "message.eml" if ctype == "message/rfc822" else "attachment"
        if len(data) > MAX_ATTACHMENT:
            omitted.append(f"{filename} ({len(data) / 1_048_576:.1f} MB): larger than 10 MB")
        elif len(attachments) >= MAX_ATTACHMENTS:
            omitted.append(f"{filename}: more than {MAX_ATTACHMENTS} attachments")
        else:
            attachments.append(NewAttachment(filename, ctype, data))
    if omitted:
        text += "\n\n" + "\n".join(f"[attachment not kept: {o}]" for o in omitted)

    kind, reason = automatic(
        msg,
        return_path=return_path,
        sender=sender,
        message_id=message_id,
        support_email=support_email,
    )
    recipients = getaddresses([_header(msg, "To"), _header(msg, "Cc")])
    meta: dict[str, Any] = {
        "to": [a.lower() for _, a in recipients if a][:20],
        "date": _header(msg, "Date")[:100],
        "return_path": return_path[:254],
    }
    if reason:
        meta["automatic"] = reason
    return InboundMail(
        message_id=message_id,
        sender=sender,
        sender_name=name.strip()[:200],
        return_path=return_path,
        subject=subject,
        in_reply_to=message_ids(_header(msg, "In-Reply-To")),
        references=message_ids(_header(msg, "References")),
        text=text,
        html=html,
        attachments=tuple(attachments),
        omitted=tuple(omitted),
        kind=kind,
        reason=reason,
        meta=meta,
    )
