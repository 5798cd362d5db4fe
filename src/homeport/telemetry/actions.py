"""Writes of the telemetry domain: store a batch of reports, issue and revoke device secrets.

:func:`store_reports` is what every transport calls inside its transaction. It resolves each
report's gateway (one query per batch), refuses implausible timestamps and unknown devices with a
reason, writes the new reports in one batched statement (``INSERT … ON CONFLICT DO NOTHING``,
from binary arrays on PostgreSQL), counts repeats of an already stored
(device_id, ts) as duplicates, refreshes ``gateways.last_seen_at`` and the home's client devices
(batched too) and publishes :class:`ReportsStored`, which reaches the health domain only after
the commit.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections import Counter as Tally
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from prometheus_client import Counter
from sqlalchemy import Table, bindparam, event, or_, select, update
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.core.errors import NotFound
from homeport.core.events import Event, publish
from homeport.core.telemetry_settings import TelemetrySettings
from homeport.network.models import DEVICE_KINDS, ClientDevice, Gateway
from homeport.network.quality import RSSI_BANDS
from homeport.telemetry import bulk
from homeport.telemetry.models import SOURCES, DeviceCredential, TelemetryReport
from homeport.telemetry.schemas import Rejection, Report, check_time

log = logging.getLogger(__name__)

REPORTS_TOTAL = Counter(
    "homeport_telemetry_reports",
    "Telemetry reports received, by transport and outcome (accepted, duplicate, rejected)",
    ["source", "outcome"],
)
#: Clients below this RSSI count as weak (REFERENCE.md 4a [T1]: −75 to −85 dBm is "weak").
WEAK_RSSI_DBM = -75.0
#: Rows per IN (...) lookup: well under SQLite's bound-parameter limit.
LOOKUP_CHUNK = 5000
UNKNOWN_DEVICE = "unknown device"

_REPORTS: Table = TelemetryReport.__table__  # type: ignore[assignment]
_GATEWAYS: Table = Gateway.__table__  # type: ignore[assignment]
_CLIENTS: Table = ClientDevice.__table__  # type: ignore[assignment]
#: What ``telemetry_reports.detail`` keeps beyond the summary columns (empty lists left out).
_DETAIL_LISTS = ("radios", "clients", "mesh")
_SERIALIZER = Report.__pydantic_serializer__
#: Columns written for each report (``id`` comes from the database), in table order, which is
#: the order :func:`_row` builds its values in.
COLUMNS = tuple(c.name for c in _REPORTS.columns if c.name != "id")
CLIENT_COLUMNS = (
    "home_id",
    "mac",
    "name",
    "kind",
    "vendor",
    "band_capability",
    "last_band",
    "last_rssi_dbm",
    "first_seen_at",
    "last_seen_at",
)
_REPORTS_NEW = "ON CONFLICT (device_id, ts) DO NOTHING"
#: A known client's row is rewritten only when a newer report says something new about it: its
#: band, its signal's quality band (``network.quality.RSSI_BANDS``), an RSSI at least
#: :data:`CLIENT_RSSI_STEP_DB` away from the stored one, or a stored ``last_seen_at`` at least
#: :data:`CLIENT_SEEN_RESOLUTION` older. So in a steady fleet most reports leave their clients'
#: rows alone (rewriting them was the largest server cost of a batch); the stored last-seen time
#: lags the newest report by less than the resolution, the stored RSSI by less than the step.
#: The test runs inside the upsert against the row as it is then, so concurrent ingest
#: processes cannot leave a row behind a report that changed it.
CLIENT_SEEN_RESOLUTION = timedelta(minutes=15)
CLIENT_RSSI_STEP_DB = 5


def _rssi_band(column: str) -> str:
    whens = " ".join(f"WHEN {column} >= {low} THEN {i}" for i, (low, _) in enumerate(RSSI_BANDS))
    return f"CASE {whens} ELSE {len(RSSI_BANDS)} END"


def _client_upsert(stale_before: str) -> str:
    """The clients' ``ON CONFLICT`` clause; ``stale_before`` is SQL for the excluded row's
    ``last_seen_at`` minus :data:`CLIENT_SEEN_RESOLUTION`, exactly, in the dialect's form."""
    old, new = "client_devices", "EXCLUDED"
    return (
        "ON CONFLICT (home_id, mac) DO UPDATE SET last_band = EXCLUDED.last_band, "
        "last_rssi_dbm = EXCLUDED.last_rssi_dbm, last_seen_at = EXCLUDED.last_seen_at "
        f"WHERE {old}.last_seen_at IS NULL OR {old}.last_seen_at <= {stale_before} "
        f"OR ({old}.last_seen_at < {new}.last_seen_at AND ("
        f"{old}.last_band IS NULL OR {old}.last_band <> {new}.last_band "
        f"OR {old}.last_rssi_dbm IS NULL "
        f"OR abs({old}.last_rssi_dbm - {new}.last_rssi_dbm) >= {CLIENT_RSSI_STEP_DB} "
        f"OR {_rssi_band(old + '.last_rssi_dbm')} <> {_rssi_band(new + '.last_rssi_dbm')}))"
    )


_RESOLUTION_S = int(CLIENT_SEEN_RESOLUTION.total_seconds())
_CLIENT_UPSERT = {
    "postgresql": _client_upsert(f"EXCLUDED.last_seen_at - interval '{_RESOLUTION_S} seconds'"),
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' text: shift the whole seconds, keep the fraction
    # (strftime keeps milliseconds only), so the comparison is exact as on PostgreSQL.
    "sqlite": _client_upsert(
        f"strftime('%Y-%m-%d %H:%M:%S', EXCLUDED.last_seen_at, '-{_RESOLUTION_S} seconds') "
        "|| substr(EXCLUDED.last_seen_at, 20)"
    ),
}


@dataclass(frozen=True)
class StoredReport:
    """A report that was newly written, with the home its gateway belongs to."""

    home_id: int
    report: Report


@dataclass
class StoreResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    stored: list[StoredReport] = field(default_factory=list)


@dataclass(frozen=True)
class ReportsStored(Event):
    """New reports were committed (duplicates and rejections are not in ``items``)."""

    items: tuple[StoredReport, ...]
    source: str


@dataclass(frozen=True)
class DeviceSecretIssued(Event):
    device_id: str


def store_reports(
    session: Session,
    reports: Sequence[Report],
    *,
    source: str,
    now: datetime,
    settings: TelemetrySettings,
) -> StoreResult:
    """Store a batch in the caller's transaction. A rejection's ``index`` is the report's
    position in ``reports``. Never raises for a bad report; a database error propagates (and the
    caller's transaction rolls back, so nothing of the batch is half-written)."""
    if source not in SOURCES:
        raise ValueError(f"unknown telemetry source {source!r}; one of {', '.join(SOURCES)}")
    result = StoreResult()
    max_age_s = settings.raw_retention_days * 86_400
    timely: list[tuple[int, Report]] = []
    for index, report in enumerate(reports):
        reason = check_time(report, now, max_future_s=settings.max_future_s, max_age_s=max_age_s)
        if reason is None:
            timely.append((index, report))
        else:
            result.rejected.append(
                Rejection(index=index, device_id=report.device_id, reason=reason)
            )

    gateways = _gateways(session, {r.device_id for _, r in timely})
    fresh: dict[tuple[str, datetime], tuple[int, int, Report]] = {}
    for index, report in timely:
        found = gateways.get(report.device_id)
        if found is None:
            result.rejected.append(
                Rejection(index=index, device_id=report.device_id, reason=UNKNOWN_DEVICE)
            )
            continue
        key = (report.device_id, report.ts.astimezone(UTC))
        if key in fresh:
            result.duplicates += 1  # the same sample twice in one batch
        else:
            fresh[key] = (found[0], found[1], report)

    inserted = _insert(session, fresh, now=now, source=source)
    result.duplicates += len(fresh) - len(inserted)
    result.accepted = len(inserted)
    result.stored = [StoredReport(fresh[key][1], fresh[key][2]) for key in inserted]
    result.rejected.sort(key=lambda r: r.index)

    if result.stored:
        _touch_gateways(session, (fresh[key] for key in inserted))
        _touch_clients(session, result.stored)
        publish(session, ReportsStored(tuple(result.stored), source))
    _count(session, source, result)
    return result


def _gateways(session: Session, device_ids: set[str]) -> dict[str, tuple[int, int]]:
    """``device_id → (gateway id, home id)`` for the known ones."""
    found: dict[str, tuple[int, int]] = {}
    ids = sorted(device_ids)
    postgres = _dialect(session) == "postgresql"
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        if postgres:
            rows: Iterable[tuple[str, int, int]] = bulk.gateways_by_device(session, chunk)
        else:
            rows = session.execute(
                select(_GATEWAYS.c.device_id, _GATEWAYS.c.id, _GATEWAYS.c.home_id).where(
                    _GATEWAYS.c.device_id.in_(chunk)
                )
            ).all()
        for device_id, gateway_id, home_id in rows:
            found[device_id] = (gateway_id, home_id)
    return found


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _detail(report: Report) -> str:
    """``telemetry_reports.detail`` as JSON text: the non-empty lists without their null fields,
    then the optical Tx level and the temperature when reported. Serialised by pydantic-core
    straight to JSON (the same text as ``orjson.dumps`` of ``model_dump(mode="json")``, without
    the Python dicts in between)."""
    include = {name for name in _DETAIL_LISTS if getattr(report, name)}
    text = _SERIALIZER.to_json(report, include=include, exclude_none=True) if include else b"{}"
    extra: dict[str, float] = {}
    if report.wan.optical_tx_dbm is not None:
        extra["optical_tx_dbm"] = report.wan.optical_tx_dbm
    if report.resources is not None and report.resources.temperature_c is not None:
        extra["temperature_c"] = report.resources.temperature_c
    if extra:
        tail = orjson.dumps(extra)[1:]  # '"optical_tx_dbm":2.1}'
        text = text[:-1] + (b"," + tail if include else tail)
    return text.decode()


def _row(report: Report, home_id: int, now: datetime, source: str) -> tuple[Any, ...]:
    """The report's values in :data:`COLUMNS` order."""
    wan, res = report.wan, report.resources
    return (
        report.device_id,
        home_id,
        report.ts.astimezone(UTC),
        now,
        source,
        wan.status,
        wan.down_mbps,
        wan.up_mbps,
        wan.latency_ms,
        wan.jitter_ms,
        wan.loss_pct,
        wan.loaded_latency_ms,
        wan.optical_rx_dbm,
        wan.dsl_snr_margin_db,
        report.uptime_s,
        wan.disconnects,
        res.cpu_pct if res else None,
        res.mem_pct if res else None,
        len(report.clients),
        sum(1 for c in report.clients if c.rssi_dbm < WEAK_RSSI_DBM),
        _detail(report),
    )


def _insert(
    session: Session,
    fresh: dict[tuple[str, datetime], tuple[int, int, Report]],
    *,
    now: datetime,
    source: str,
) -> list[tuple[str, datetime]]:
    """Insert the reports not stored yet; the (device_id, ts) keys actually written, in order."""
    if not fresh:
        return []
    rows = [_row(report, home_id, now, source) for _, home_id, report in fresh.values()]
    if _dialect(session) == "postgresql":
        written = _insert_postgresql(session, rows)
    else:
        returned = bulk.sqlite_insert(
            session, "telemetry_reports", COLUMNS, rows, _REPORTS_NEW + " RETURNING device_id, ts"
        )
        written = {(d, bulk.sqlite_datetime(ts)) for d, ts in returned}
    return [key for key in fresh if key in written]


def _insert_postgresql(session: Session, rows: list[tuple[Any, ...]]) -> set[tuple[str, datetime]]:
    """One ``INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING``; the keys written."""
    written = bulk.unnest_merge(
        session, _REPORTS, COLUMNS, rows, _REPORTS_NEW + " RETURNING device_id, ts"
    )
    return {(d, ts.astimezone(UTC)) for d, ts in written}


def _touch_gateways(session: Session, stored: Iterable[tuple[int, int, Report]]) -> None:
    """``gateways.last_seen_at`` moves forward to each gateway's newest stored report."""
    newest: dict[int, datetime] = {}
    for gateway_id, _, report in stored:
        ts = report.ts.astimezone(UTC)
        if gateway_id not in newest or ts > newest[gateway_id]:
            newest[gateway_id] = ts
    if _dialect(session) == "postgresql":
        bulk.touch_gateways(session, newest)
        return
    seen = bindparam("seen", type_=_GATEWAYS.c.last_seen_at.type)
    stmt = (
        update(_GATEWAYS)
        .where(
            _GATEWAYS.c.id == bindparam("gid"),
            or_(_GATEWAYS.c.last_seen_at.is_(None), _GATEWAYS.c.last_seen_at < seen),
        )
        .values(last_seen_at=seen)
    )
    session.connection().execute(stmt, [{"gid": g, "seen": ts} for g, ts in newest.items()])


def _capability(band: str, legacy: bool | None) -> str:
    if legacy:
        return "2.4"
    return "2.4+5+6" if band == "6GHz" else "2.4+5"


def _touch_clients(session: Session, stored: Sequence[StoredReport]) -> None:
    """Upsert the client devices of each home's newest report: a MAC seen for the first time
    becomes a ``client_devices`` row; a known one gets its band, RSSI and last-seen time when
    they say something new (:data:`CLIENT_SEEN_RESOLUTION`)."""
    newest: dict[int, Report] = {}
    for item in stored:
        current = newest.get(item.home_id)
        if current is None or item.report.ts > current.ts:
            newest[item.home_id] = item.report
    # Values in CLIENT_COLUMNS order, built as tuples directly (a dict per client, then a tuple
    # from it, cost more than the rest of this function).
    postgres = _dialect(session) == "postgresql"
    rows: list[tuple[Any, ...]] = []
    for home_id, report in newest.items():
        seen_at = report.ts.astimezone(UTC)
        # On SQLite in stored form once per home, not converted again for each client.
        seen = seen_at if postgres else bulk.sqlite_value(seen_at)
        rows.extend(
            (
                home_id,
                client.mac,
                "",
                client.kind if client.kind in DEVICE_KINDS else "other",
                "",
                _capability(client.band, client.legacy_2g_only),
                client.band,
                round(client.rssi_dbm),
                seen,
                seen,
            )
            for client in report.clients
        )
    if not rows:
        return
    if postgres:
        bulk.unnest_merge(session, _CLIENTS, CLIENT_COLUMNS, rows, _CLIENT_UPSERT["postgresql"])
    else:
        bulk.sqlite_insert(
            session, "client_devices", CLIENT_COLUMNS, rows, _CLIENT_UPSERT["sqlite"]
        )


def _kind(reason: str) -> str:
    if reason.endswith("in the future"):
        return "timestamp in the future"
    if reason.startswith("timestamp"):
        return "timestamp too old"
    return reason


def _count(session: Session, source: str, result: StoreResult) -> None:
    """Rejections count at once; accepted and duplicate reports only once committed."""
    if result.rejected:
        REPORTS_TOTAL.labels(source, "rejected").inc(len(result.rejected))
        reasons = Tally(_kind(r.reason) for r in result.rejected)
        for r in result.rejected:
            log.info(
                "telemetry report rejected",
                extra={"source": source, "device_id": r.device_id, "reason": r.reason},
            )
        log.warning(
            "telemetry: %d of %d reports rejected via %s (%s)",
            len(result.rejected),
            len(result.rejected) + result.accepted + result.duplicates,
            source,
            ", ".join(f"{n}× {why}" for why, n in reasons.most_common(5)),
        )
    pending: Tally[tuple[str, str]] = session.info.setdefault(_PENDING_COUNTS, Tally())
    pending[(source, "accepted")] += result.accepted
    pending[(source, "duplicate")] += result.duplicates


_PENDING_COUNTS = "homeport.telemetry.pending_counts"


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    """Accepted and duplicate reports count once their transaction has committed."""
    for (source, outcome), n in session.info.pop(_PENDING_COUNTS, Tally()).items():
        if n:
            REPORTS_TOTAL.labels(source, outcome).inc(n)


@event.listens_for(Session, "after_soft_rollback")
def _discard_counts(session: Session, previous_transaction: Any) -> None:
    session.info.pop(_PENDING_COUNTS, None)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_device_secret(session: Session, *, device_id: str, actor: Actor, now: datetime) -> str:
    """Create (or rotate) the bearer secret of a known gateway; returns it (shown once)."""
    if session.scalar(select(Gateway.id).where(Gateway.device_id == device_id)) is None:
        raise NotFound(f"no gateway with device id {device_id}")
    secret = secrets.token_urlsafe(32)
    row = session.scalar(select(DeviceCredential).where(DeviceCredential.device_id == device_id))
    if row is None:
        row = DeviceCredential(device_id=device_id, created_at=now)
        session.add(row)
    row.secret_hash = hash_secret(secret)
    row.revoked_at = None
    session.flush()
    record(
        session,
        at=now,
        actor=actor,
        action="device_credential.issued",
        entity_type="device_credential",
        entity_id=row.id,
        device_id=device_id,
    )
    publish(session, DeviceSecretIssued(device_id))
    return secret


def revoke_device_secret(session: Session, *, device_id: str, actor: Actor, now: datetime) -> None:
    row = session.scalar(select(DeviceCredential).where(DeviceCredential.device_id == device_id))
    if row is None or row.secret_hash is None:
        raise NotFound(f"device {device_id} has no secret")
    row.revoked_at = now
    record(
        session,
        at=now,
        actor=actor,
        action="device_credential.revoked",
        entity_type="device_credential",
        entity_id=row.id,
        device_id=device_id,
    )
