"""Inputs of the network domain's writes: topology (region > access node > port) and a home's
line. Field types come from ``subscribers.schemas`` so both domains parse alike."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, model_validator

from homeport.network.models import NODE_KINDS, TECHNOLOGIES
from homeport.subscribers.schemas import Code, Label, LongCode, Name, one_of, whole_number

#: The kind of access node a line of each technology hangs off.
NODE_KIND_FOR_TECHNOLOGY: dict[str, str] = {
    "fttp": "olt",
    "fttc": "dslam",
    "adsl": "dslam",
    "cable": "cmts",
    "fwa": "tower",
}
#: Homes one port can serve, at most (a GPON port splits 1:128 at the very most).
MAX_PORT_CAPACITY = 1024

NodeKind = Annotated[str, one_of(NODE_KINDS)]
Technology = Annotated[str, one_of(TECHNOLOGIES)]
PortName = Code
Capacity = Annotated[int, whole_number(1, MAX_PORT_CAPACITY)]


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RegionIn(_Input):
    """A region, matched on ``code``."""

    code: Code
    name: Name


class AccessNodeIn(_Input):
    """An OLT, DSLAM, CMTS or tower, matched on ``code``; it belongs to an existing region.

    ``name``, ``vendor`` and ``model``: ``None`` keeps the stored value, ``""`` clears it.
    """

    code: LongCode
    region_code: Code
    kind: NodeKind
    name: Label | None = None
    vendor: Label | None = None
    model: Label | None = None


class PortIn(_Input):
    """A port, matched on (access node code, port name). ``capacity`` ``None``: keep / 64."""

    access_node_code: LongCode
    name: PortName
    capacity: Capacity | None = None


class HomeIn(_Input):
    """A subscriber's line: its technology and the port it hangs off.

    ``None`` keeps what is stored; a new home needs a technology. The port is named by its
    access node and its name, given together.
    """

    technology: Technology | None = None
    access_node_code: LongCode | None = None
    port: PortName | None = None

    @model_validator(mode="after")
    def _port_named_fully(self) -> HomeIn:
        if (self.access_node_code is None) != (self.port is None):
            missing = "port" if self.port is None else "access_node_code"
            raise IncompletePort(
                missing, "is empty; a port is named by access_node_code and port together"
            )
        return self


class IncompletePort(ValueError):
    """Raised by :class:`HomeIn` when only one of access node and port is given."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
