"""One batch of MQTT messages: parse, check the topic, store in one transaction.

Pure logic with the parser and the store injected, so that it is tested without a broker. A
message is *rejected* (counted, logged, acknowledged) when its payload is not a valid report,
when its topic does not name the report's device, or when the store refuses the report (unknown
device, implausible timestamp). A store that raises (database down) rejects nothing: the whole
batch stays unacknowledged and is tried again.

A store may also hand back *commands*: remote actions of the reporting devices that it marked
``sent`` in the same transaction, for the consumer to publish once that transaction committed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from homeport.telemetry.schemas import Rejection, Report

Parse = Callable[[bytes], Report]


class StoreOutcome(Protocol):
    """What a store reports back (``telemetry.actions.StoreResult`` has this shape)."""

    @property
    def accepted(self) -> int: ...

    @property
    def duplicates(self) -> int: ...

    @property
    def rejected(self) -> list[Rejection]: ...


#: A command for a device: its id and the JSON payload to publish on its command topic.
Command = tuple[str, bytes]


@runtime_checkable
class WithCommands(Protocol):
    """A store outcome that also carries commands to publish after the commit."""

    @property
    def commands(self) -> Sequence[Command]: ...


#: Applies one action result from a device (its id, the payload), committed; raises
#: ``ValueError`` or a ``HomeportError`` with the reason when the result is refused.
ApplyResult = Callable[[str, bytes], None]

#: Stores reports in one committed transaction; rejections index into the given sequence.
Store = Callable[[Sequence[Report]], StoreOutcome]


@dataclass(frozen=True)
class Received:
    """One message as it came off the wire. ``generation`` numbers the connection it came on:
    an acknowledgement is only valid on the connection that delivered the message."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int


@dataclass
class BatchOutcome:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[Received, str]] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    #: Action results applied (messages on the results topics).
    results: int = 0


def device_of(topic: str, prefix: str) -> str:
    """The device id a topic names: ``<prefix>/<device_id>``, one level, nothing else."""
    head = prefix.rstrip("/") + "/"
    if not topic.startswith(head) or "/" in topic[len(head) :] or topic == head:
        raise ValueError(f"topic {topic!r} is not {head}<device_id>")
    return topic[len(head) :]


def process(batch: Sequence[Received], *, prefix: str, parse: Parse, store: Store) -> BatchOutcome:
    """Parse and check every message, store the good ones together, collect the rejections.

    Raises whatever ``store`` raises (nothing was committed then)."""
    outcome = BatchOutcome()
    reports: list[Report] = []
    origins: list[Received] = []
    for message in batch:
        try:
            device = device_of(message.topic, prefix)
            report = parse(message.payload)
        except ValueError as exc:
            outcome.rejected.append((message, _one_line(exc)))
            continue
        if report.device_id != device:
            reason = (
                f"the topic names device {device!r} but the report is from {report.device_id!r}"
            )
            outcome.rejected.append((message, reason))
            continue
        reports.append(report)
        origins.append(message)
    if reports:
        result = store(reports)
        outcome.accepted = result.accepted
        outcome.duplicates = result.duplicates
        outcome.rejected.extend((origins[r.index], r.reason) for r in result.rejected)
        if isinstance(result, WithCommands):
            outcome.commands.extend(result.commands)
    return outcome


def _one_line(exc: ValueError) -> str:
    text = str(exc).strip()
    return " ".join(text.split()) or type(exc).__name__
