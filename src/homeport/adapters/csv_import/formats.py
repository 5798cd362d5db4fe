"""The three CSV formats: their columns, how a row becomes the domain's input schemas, the key
that must be unique within a file, and the checks that span rows (docs/import.md).

Cell conventions: a required column's cell must not be empty (except ``email``, which may be,
and ``plan_code``, where empty means no plan). In an optional column, an empty cell of a text
field (phone, address, vendor, ...) clears the stored value, while an empty choice, yes/no or
number keeps the stored value (a new row gets the default). A column left out of the file
keeps the stored values of that field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from homeport.adapters.csv_import.parse import Row
from homeport.core.errors import FieldError
from homeport.network.schemas import AccessNodeIn, HomeIn, PortIn, RegionIn
from homeport.subscribers.schemas import (
    BundleSelection,
    PlanIn,
    SubscriberIn,
    field_errors,
    shown,
)

M = TypeVar("M", bound=BaseModel)
KINDS = ("plans", "topology", "subscribers")
BUNDLE_SEPARATOR = ";"


@dataclass(frozen=True)
class PlanRow:
    line: int
    plan: PlanIn


@dataclass(frozen=True)
class TopologyRow:
    line: int
    region: RegionIn
    node: AccessNodeIn
    port: PortIn


@dataclass(frozen=True)
class SubscriberRow:
    line: int
    subscriber: SubscriberIn
    home: HomeIn | None
    bundles: BundleSelection | None


ParsedRow = PlanRow | TopologyRow | SubscriberRow


class RowInvalid(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} errors")
        self.errors = errors


@dataclass
class FileChecks:
    """What earlier rows of the file said, to catch repeats and contradictions."""

    keys: dict[tuple[str, ...], int] = field(default_factory=dict)
    regions: dict[str, tuple[int, str]] = field(default_factory=dict)
    nodes: dict[str, tuple[int, tuple[tuple[str, str | None], ...]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Format:
    kind: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    #: Text columns where an empty cell clears the stored value (others: empty keeps it).
    clearable: tuple[str, ...]
    #: Required columns whose cell may be empty.
    may_be_empty: tuple[str, ...]
    build: Callable[[Row, dict[str, str | None]], ParsedRow]
    #: The columns whose values must be unique within the file (the natural key).
    key_columns: tuple[str, ...]
    cross_check: Callable[[Any, FileChecks], list[FieldError]] = lambda row, checks: []

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional

    def parse(self, row: Row, checks: FileChecks) -> ParsedRow:
        """The row as domain inputs; raises :class:`RowInvalid` with every problem found."""
        values: dict[str, str | None] = {}
        errors: list[FieldError] = []
        for column, cell in row.cells.items():
            if cell or column in self.clearable:
                values[column] = cell
            elif column in self.required and column not in self.may_be_empty:
                errors.append(FieldError(column, "is empty; a value is required", row.line))
            else:
                values[column] = None
        key = tuple(row.cells[column] for column in self.key_columns)
        if all(key):
            first = checks.keys.setdefault(key, row.line)
            if first != row.line:
                errors.append(
                    FieldError(
                        self.key_columns[-1],
                        f"duplicate {shown(' '.join(key))}: also on line {first}",
                        row.line,
                    )
                )
        parsed: ParsedRow | None = None
        try:
            parsed = self.build(row, values)
        except RowInvalid as exc:
            errors.extend(exc.errors)
        errors = _first_per_column(errors)
        if errors:
            raise RowInvalid(errors)
        assert parsed is not None
        errors = self.cross_check(parsed, checks)
        if errors:
            raise RowInvalid(errors)
        return parsed


def _first_per_column(errors: list[FieldError]) -> list[FieldError]:
    seen: set[str] = set()
    out = []
    for err in errors:
        base = err.field.split("[")[0]
        if base not in seen:
            seen.add(base)
            out.append(err)
    return out


def _model(
    model: type[M],
    line: int,
    values: dict[str, Any],
    columns: dict[str, str],
    errors: list[FieldError],
    *,
    explicit: tuple[str, ...] = (),
) -> M | None:
    """Validate ``values`` (keyed by schema field) as ``model``; errors named by CSV column.

    ``None`` values are left out (the schema's "not given"), except for the fields named in
    ``explicit``, where ``None`` is a value.
    """
    given = {name: value for name, value in values.items() if value is not None or name in explicit}
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        errors.extend(field_errors(exc, line=line, columns=columns))
        return None


def _pick(values: dict[str, str | None], columns: dict[str, str]) -> dict[str, str | None]:
    """Schema field -> cell, for the columns present in the file."""
    return {name: values[column] for name, column in columns.items() if column in values}


# Plans -------------------------------------------------------------------------------------

_PLAN_COLUMNS = {name: name for name in PlanIn.model_fields}


def _build_plan(row: Row, values: dict[str, str | None]) -> PlanRow:
    errors: list[FieldError] = []
    plan = _model(PlanIn, row.line, _pick(values, _PLAN_COLUMNS), _PLAN_COLUMNS, errors)
    if plan is None:
        raise RowInvalid(errors)
    return PlanRow(row.line, plan)


PLANS = Format(
    kind="plans",
    required=("code", "name", "down_mbps", "up_mbps", "monthly_price"),
    optional=("currency", "is_active"),
    clearable=(),
    may_be_empty=(),
    build=_build_plan,
    key_columns=("code",),
)


# Topology ----------------------------------------------------------------------------------

_REGION_COLUMNS = {"code": "region_code", "name": "region_name"}
_NODE_COLUMNS = {
    "code": "access_node_code",
    "region_code": "region_code",
    "kind": "access_node_kind",
    "name": "access_node_name",
    "vendor": "vendor",
    "model": "model",
}
_PORT_COLUMNS = {"access_node_code": "access_node_code", "name": "port", "capacity": "capacity"}


def _build_topology(row: Row, values: dict[str, str | None]) -> TopologyRow:
    errors: list[FieldError] = []
    region = _model(RegionIn, row.line, _pick(values, _REGION_COLUMNS), _REGION_COLUMNS, errors)
    node = _model(AccessNodeIn, row.line, _pick(values, _NODE_COLUMNS), _NODE_COLUMNS, errors)
    port = _model(PortIn, row.line, _pick(values, _PORT_COLUMNS), _PORT_COLUMNS, errors)
    if region is None or node is None or port is None:
        raise RowInvalid(errors)
    return TopologyRow(row.line, region, node, port)


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _check_topology(row: TopologyRow, checks: FileChecks) -> list[FieldError]:
    """The same region or access node described differently on two lines is an error."""
    errors = []
    region = checks.regions.setdefault(row.region.code, (row.line, row.region.name))
    if region[1] != row.region.name:
        errors.append(
            FieldError(
                "region_name",
                f"region {row.region.code} is named "
                f"{shown(row.region.name)} here but {shown(region[1])} on "
                f"line {region[0]}",
                row.line,
            )
        )
    node = row.node
    described = (
        ("region_code", node.region_code),
        ("access_node_kind", node.kind),
        ("access_node_name", node.name),
        ("vendor", node.vendor),
        ("model", node.model),
    )
    line, before = checks.nodes.setdefault(node.code, (row.line, described))
    for (column, value), (_, earlier) in zip(described, before, strict=True):
        if value != earlier:
            errors.append(
                FieldError(
                    column,
                    f"access node {node.code} has {column} "
                    f"{shown(value or '')} here but {shown(earlier or '')} "
                    f"on line {line}",
                    row.line,
                )
            )
    return errors


TOPOLOGY = Format(
    kind="topology",
    required=("region_code", "region_name", "access_node_code", "access_node_kind", "port"),
    optional=("access_node_name", "vendor", "model", "capacity"),
    clearable=("access_node_name", "vendor", "model"),
    may_be_empty=(),
    build=_build_topology,
    key_columns=("access_node_code", "port"),
    cross_check=_check_topology,
)


# Subscribers -------------------------------------------------------------------------------

_SUBSCRIBER_COLUMNS = {name: name for name in SubscriberIn.model_fields}
_HOME_COLUMNS = {name: name for name in HomeIn.model_fields}


def _build_subscriber(row: Row, values: dict[str, str | None]) -> SubscriberRow:
    errors: list[FieldError] = []
    fields = _pick(values, _SUBSCRIBER_COLUMNS)
    fields["email"] = fields.get("email") or ""
    # An empty plan_code cell means "no plan": a value, not "keep the stored plan".
    subscriber = _model(
        SubscriberIn, row.line, fields, _SUBSCRIBER_COLUMNS, errors, explicit=("plan_code",)
    )
    home_values = _pick(values, _HOME_COLUMNS)
    home = None
    if any(v is not None for v in home_values.values()):
        home = _model(HomeIn, row.line, home_values, _HOME_COLUMNS, errors)
    bundles = None
    if "bundles" in values:
        codes = [c.strip() for c in (values["bundles"] or "").split(BUNDLE_SEPARATOR)]
        bundles = _model(
            BundleSelection,
            row.line,
            {"codes": [c for c in codes if c]},
            {"codes": "bundles"},
            errors,
        )
    if subscriber is None or errors:
        raise RowInvalid(errors)
    return SubscriberRow(row.line, subscriber, home, bundles)


SUBSCRIBERS = Format(
    kind="subscribers",
    required=("account_number", "name", "email", "plan_code", "status", "journey_stage"),
    optional=(
        "phone",
        "address",
        "city",
        "postcode",
        "preferred_channel",
        "consent_email",
        "consent_sms",
        "consent_marketing",
        "technology",
        "access_node_code",
        "port",
        "bundles",
    ),
    clearable=("phone", "address", "city", "postcode", "bundles"),
    may_be_empty=("email", "plan_code"),
    build=_build_subscriber,
    key_columns=("account_number",),
)

FORMATS: dict[str, Format] = {f.kind: f for f in (PLANS, TOPOLOGY, SUBSCRIBERS)}


def guess_kind(kind: str) -> Callable[[list[str]], str]:
    """A hint for a header that fits another kind of file better than ``kind``."""

    def hint(columns: list[str]) -> str:
        for other in FORMATS.values():
            if other.kind != kind and set(other.required) <= set(columns):
                return f" (this looks like a {other.kind} file: import it as {other.kind})"
        return ""

    return hint
