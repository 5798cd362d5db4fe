"""Writes of the network domain: topology (region > access node > port) and homes' lines.

As in ``subscribers.actions``: each action works in the caller's session, audits and publishes
a past-tense event when something changed, and accepts a :class:`Known` (rows already looked
up, for batches) and ``audit=False`` (for callers that audit the whole batch once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, lazyload

from homeport.audit.actions import Actor, record
from homeport.core.errors import FieldError, ValidationFailed
from homeport.core.events import Event, publish, publish_when_flushed
from homeport.core.writes import Saved, apply, cached, chunks, given
from homeport.network.models import AccessNode, Home, Port, Region
from homeport.network.schemas import (
    NODE_KIND_FOR_TECHNOLOGY,
    AccessNodeIn,
    HomeIn,
    PortIn,
    RegionIn,
)
from homeport.subscribers.actions import subscriber_row
from homeport.subscribers.models import Subscriber
from homeport.subscribers.schemas import shown

DEFAULT_PORT_CAPACITY = 64
#: For messages: "an FTTP line needs a port on an OLT".
_A_LINE = {
    "fttp": "an FTTP",
    "fttc": "an FTTC",
    "adsl": "an ADSL",
    "cable": "a cable",
    "fwa": "a fixed-wireless (FWA)",
}
_A_NODE = {"olt": "an OLT", "dslam": "a DSLAM", "cmts": "a CMTS", "tower": "a tower"}


# Events ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegionCreated(Event):
    region_id: int
    code: str


@dataclass(frozen=True)
class RegionUpdated(Event):
    region_id: int
    changed: tuple[str, ...]


@dataclass(frozen=True)
class AccessNodeCreated(Event):
    access_node_id: int
    code: str
    kind: str


@dataclass(frozen=True)
class AccessNodeUpdated(Event):
    access_node_id: int
    changed: tuple[str, ...]


@dataclass(frozen=True)
class PortCreated(Event):
    port_id: int
    access_node_id: int
    name: str


@dataclass(frozen=True)
class PortUpdated(Event):
    port_id: int
    changed: tuple[str, ...]


@dataclass(frozen=True)
class HomeAttached(Event):
    """A home was created, moved to another port, or changed technology."""

    home_id: int
    subscriber_id: int
    technology: str
    port_id: int | None
    previous_port_id: int | None


# Rows already looked up ---------------------------------------------------------------------

PortKey = tuple[str, str]  # (access node code, port name)


@dataclass
class Known:
    """Topology rows found by natural key, and homes by subscriber, shared across a batch.

    As ``subscribers.actions.Known``: ``None`` means known to be absent. ``homes`` are keyed by
    the subscriber's account number; ``port_load`` counts the homes on each port looked up.
    """

    regions: dict[str, Region | None] = field(default_factory=dict)
    nodes: dict[str, AccessNode | None] = field(default_factory=dict)
    ports: dict[PortKey, Port | None] = field(default_factory=dict)
    homes: dict[str, Home | None] = field(default_factory=dict)
    port_load: dict[Port, int] = field(default_factory=dict)
    _all_ports_of: set[str] = field(default_factory=set)

    def fetch(
        self,
        session: Session,
        *,
        regions: Iterable[str] = (),
        nodes: Iterable[str] = (),
        ports: Iterable[PortKey] = (),
        homes_of: Iterable[Subscriber] = (),
    ) -> Known:
        """Look up the keys not known yet, in a few queries."""
        region_codes = sorted(set(regions) - set(self.regions))
        self.regions.update(dict.fromkeys(region_codes))
        for codes in chunks(region_codes):
            for region in session.scalars(select(Region).where(Region.code.in_(codes))):
                self.regions[region.code] = region
        port_keys = set(ports) - set(self.ports)
        node_codes = sorted((set(nodes) | {node for node, _ in port_keys}) - set(self.nodes))
        self.nodes.update(dict.fromkeys(node_codes))
        for codes in chunks(node_codes):
            for node in session.scalars(select(AccessNode).where(AccessNode.code.in_(codes))):
                self.nodes[node.code] = node
        # Every port of a node is loaded at once, so a port not found is known not to exist.
        port_nodes = sorted({node for node, _ in port_keys} - self._all_ports_of)
        found: dict[int, Port] = {}
        for codes in chunks(port_nodes):
            for port in session.scalars(
                select(Port).join(Port.access_node).where(AccessNode.code.in_(codes))
            ):
                key = (port.access_node.code, port.name)
                if key not in self.ports:
                    self.ports[key] = port
                    found[port.id] = port
        self._all_ports_of.update(port_nodes)
        for key in port_keys:
            self.ports.setdefault(key, None)
        found = {pid: port for pid, port in found.items() if port not in self.port_load}
        self.port_load.update(dict.fromkeys(found.values(), 0))
        for ids in chunks(sorted(found)):
            for pid, count in session.execute(
                select(Home.port_id, func.count())
                .where(Home.port_id.in_(ids))
                .group_by(Home.port_id)
            ):
                if pid is not None:
                    self.port_load[found[pid]] = count
        accounts = {
            s.id: s.account_number
            for s in homes_of
            if s.id is not None and s.account_number not in self.homes
        }
        self.homes.update(dict.fromkeys(accounts.values()))
        for ids in chunks(sorted(accounts)):
            query = (
                select(Home)
                .where(Home.subscriber_id.in_(ids))
                .options(lazyload(Home.gateway), lazyload(Home.mesh_nodes), lazyload(Home.clients))
            )
            for home in session.scalars(query):
                self.homes[accounts[home.subscriber_id]] = home
        return self


def region_by_code(session: Session, code: str, known: Known | None = None) -> Region | None:
    return cached(
        known.regions if known else None,
        code,
        lambda: session.scalar(select(Region).where(Region.code == code)),
    )


def node_by_code(session: Session, code: str, known: Known | None = None) -> AccessNode | None:
    return cached(
        known.nodes if known else None,
        code,
        lambda: session.scalar(select(AccessNode).where(AccessNode.code == code)),
    )


def port_by_key(
    session: Session, node_code: str, name: str, known: Known | None = None
) -> Port | None:
    return cached(
        known.ports if known else None,
        (node_code, name),
        lambda: session.scalar(
            select(Port)
            .join(Port.access_node)
            .where(AccessNode.code == node_code, Port.name == name)
        ),
    )


def homes_on_port(session: Session, port: Port, known: Known | None = None) -> int:
    """How many homes hang off ``port``."""
    if known is not None and port in known.port_load:
        return known.port_load[port]
    query = select(func.count()).select_from(Home).where(Home.port_id == port.id)
    count = int(session.scalar(query) or 0) if port.id is not None else 0
    if known is not None:
        known.port_load[port] = count
    return count


def _home_of(session: Session, sub: Subscriber, known: Known | None) -> Home | None:
    return cached(
        known.homes if known else None,
        sub.account_number,
        lambda: session.scalar(select(Home).where(Home.subscriber_id == _flushed(session, sub))),
    )


def _invalid(message: str, name: str, detail: str) -> ValidationFailed:
    return ValidationFailed(message, [FieldError(name, detail)])


def _audit(
    session: Session,
    audit: bool,
    *,
    now: datetime,
    actor: Actor,
    action: str,
    entity_type: str,
    entity: Any,
    **detail: Any,
) -> None:
    """Record the audit entry (flushing first if ``entity`` is new and has no id yet)."""
    if audit:
        record(
            session,
            at=now,
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=_flushed(session, entity),
            **detail,
        )


def _flushed(session: Session, row: Any) -> int:
    """The id of ``row``, flushing if it was created in this session and has none yet."""
    if row.id is None:
        session.flush()
    return int(row.id)


# Topology ----------------------------------------------------------------------------------


def upsert_region(
    session: Session,
    data: RegionIn,
    *,
    actor: Actor,
    now: datetime,
    known: Known | None = None,
    audit: bool = True,
) -> Saved[Region]:
    region = region_by_code(session, data.code, known)
    if region is None:
        new = region = Region(code=data.code, name=data.name)
        session.add(region)
        if known is not None:
            known.regions[region.code] = region
        _audit(
            session,
            audit,
            now=now,
            actor=actor,
            action="region.created",
            entity_type="region",
            entity=region,
            code=region.code,
            name=region.name,
        )
        publish_when_flushed(session, lambda: RegionCreated(new.id, new.code))
        return Saved(region, created=True)
    changes = apply(region, {"name": data.name})
    if changes:
        _audit(
            session,
            audit,
            now=now,
            actor=actor,
            action="region.updated",
            entity_type="region",
            entity=region,
            changed=changes,
        )
        publish(session, RegionUpdated(region.id, tuple(changes)))
    return Saved(region, created=False, changed=tuple(changes))


def _technologies_for(kind: str) -> list[str]:
    return [tech for tech, node_kind in NODE_KIND_FOR_TECHNOLOGY.items() if node_kind == kind]


def upsert_access_node(
    session: Session,
    data: AccessNodeIn,
    *,
    actor: Actor,
    now: datetime,
    known: Known | None = None,
    audit: bool = True,
) -> Saved[AccessNode]:
    """Create the node ``data.code`` or update it (it may move to another region).

    Its kind may change only if no home on it uses a technology the new kind cannot serve.
    """
    region = region_by_code(session, data.region_code, known)
    if region is None:
        raise _invalid(
            "unknown region", "region_code", f"no region with code {shown(data.region_code)}"
        )
    node = node_by_code(session, data.code, known)
    values = {
        "region_id": _flushed(session, region),
        "kind": data.kind,
        **given(name=data.name, vendor=data.vendor, model=data.model),
    }
    if node is None:
        new = node = AccessNode(code=data.code, **{"name": "", "vendor": "", "model": "", **values})
        node.region = region
        session.add(node)
        if known is not None:
            known.nodes[node.code] = node
        _audit(
            session,
            audit,
            now=now,
            actor=actor,
            action="access_node.created",
            entity_type="access_node",
            entity=node,
            code=node.code,
            kind=node.kind,
            region=region.code,
        )
        publish_when_flushed(session, lambda: AccessNodeCreated(new.id, new.code, new.kind))
        return Saved(node, created=True)
    if data.kind != node.kind:
        stranded = session.scalar(
            select(func.count())
            .select_from(Home)
            .join(Home.port)
            .where(
                Port.access_node_id == node.id, Home.technology.not_in(_technologies_for(data.kind))
            )
        )
        if stranded:
            raise _invalid(
                "access node kind change refused",
                "kind",
                f"{node.code} cannot become {_A_NODE[data.kind]}: {stranded} "
                f"home(s) on it have lines {_A_NODE[data.kind]} cannot serve",
            )
    changes = apply(node, values)
    if changes:
        if "region_id" in changes:
            node.region = region
        _audit(
            session,
            audit,
            now=now,
            actor=actor,
            action="access_node.updated",
            entity_type="access_node",
            entity=node,
            changed=changes,
        )
        publish(session, AccessNodeUpdated(node.id, tuple(changes)))
    return Saved(node, created=False, changed=tuple(changes))


def upsert_port(
    session: Session,
    data: PortIn,
    *,
    actor: Actor,
    now: datetime,
    known: Known | None = None,
    audit: bool = True,
) -> Saved[Port]:
    """Create the port (access node, name) or update its capacity (never below its homes)."""
    node = node_by_code(session, data.access_node_code, known)
    if node is None:
        raise _invalid(
            "unknown access node",
            "access_node_code",
            f"no access node with code {shown(data.access_node_code)}",
        )
    port = port_by_key(session, node.code, data.name, known)
    if port is None:
        new = port = Port(
            access_node_id=_flushed(session, node),
            name=data.name,
            capacity=data.capacity or DEFAULT_PORT_CAPACITY,
        )
        port.access_node = node
        session.add(port)
        if known is not None:
            known.ports[(node.code, port.name)] = port
        _audit(
            session,
            audit,
            now=now,
            actor=actor,
            action="port.created",
            entity_type="port",
            entity=port,
            access_node=node.code,
            name=port.name,
            capacity=port.capacity,
        )
        publish_when_flushed(session, lambda: PortCreated(new.id, new.access_node_id, new.name))
        return Saved(port, created=True)
    if data.capacity is not None and data.capacity < port.capacity:
        load = homes_on_port(session, port, known)
        if data.capacity < load:
            raise _invalid(
                "port capacity below its homes",
                "capacity",
                f"{data.capacity} is less than the {load} homes already on {node.code} {port.name}",
            )
    changes = apply(port, given(capacity=data.capacity))
    if changes:
        _audit(
            session,
            audit,
            now=now,
            actor=actor,
            action="port.updated",
            entity_type="port",
            entity=port,
            changed=changes,
        )
        publish(session, PortUpdated(port.id, tuple(changes)))
    return Saved(port, created=False, changed=tuple(changes))


# Homes -------------------------------------------------------------------------------------


def _port_for(session: Session, data: HomeIn, known: Known | None) -> Port | None:
    if data.access_node_code is None or data.port is None:
        return None
    node = node_by_code(session, data.access_node_code, known)
    if node is None:
        raise _invalid(
            "unknown access node",
            "access_node_code",
            f"no access node with code {shown(data.access_node_code)}",
        )
    port = port_by_key(session, node.code, data.port, known)
    if port is None:
        raise _invalid(
            "unknown port", "port", f"access node {node.code} has no port {shown(data.port)}"
        )
    return port


def attach_home(
    session: Session,
    subscriber: Subscriber | int,
    data: HomeIn,
    *,
    actor: Actor,
    now: datetime,
    known: Known | None = None,
    audit: bool = True,
) -> Saved[Home]:
    """Create or update the subscriber's home: its line technology and its port.

    The port's access node must be of the kind the technology needs (an OLT for FTTP, ...), and
    a port takes no more homes than its capacity.
    """
    sub = subscriber_row(session, subscriber)
    home = _home_of(session, sub, known)
    port = _port_for(session, data, known)
    technology = data.technology or (home.technology if home else None)
    if technology is None:
        raise _invalid(
            "technology needed", "technology", "is empty; a new home needs its line technology"
        )
    target = port if port is not None else (home.port if home else None)
    if target is not None:
        needed = NODE_KIND_FOR_TECHNOLOGY[technology]
        node = target.access_node
        if node.kind != needed:
            raise _invalid(
                "technology does not match the access node",
                "technology",
                f"{_A_LINE[technology]} line needs a port on {_A_NODE[needed]}, "
                f"but {node.code} is {_A_NODE[node.kind]}",
            )
    previous = home.port if home else None
    moving = port is not None and port is not previous
    if port is not None and moving:
        load = homes_on_port(session, port, known)
        if load >= port.capacity:
            raise _invalid(
                "port full",
                "port",
                f"{port.access_node.code} {port.name} is full ({load} of {port.capacity} homes)",
            )
    changes: dict[str, list[object]] = {}
    created = home is None
    if home is None:
        home = Home(technology=technology, port=port)
        home.subscriber = sub
        session.add(home)
    else:
        changes = apply(home, {"technology": technology})
        if moving and port is not None:
            changes["port_id"] = [previous.id if previous else None, port.id]
            home.port = port
    if known is not None:
        known.homes[sub.account_number] = home
        if moving and port is not None:
            known.port_load[port] = homes_on_port(session, port, known) + 1
            if previous is not None and previous in known.port_load:
                known.port_load[previous] -= 1
    if created or changes:
        _audit(
            session,
            audit,
            now=now,
            actor=actor,
            action="home.created" if created else "home.updated",
            entity_type="home",
            entity=home,
            account_number=sub.account_number,
            technology=technology,
            changed=changes,
        )
        attached, previous_id = home, previous.id if previous else None
        publish_when_flushed(
            session,
            lambda: HomeAttached(
                attached.id,
                attached.subscriber_id,
                attached.technology,
                attached.port_id,
                previous_id,
            ),
        )
    return Saved(home, created=created, changed=tuple(changes))
