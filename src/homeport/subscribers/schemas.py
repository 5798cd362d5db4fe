"""Inputs of the subscribers domain's writes, validated here so every caller (API, CSV import,
CLI, simulator, tests) gets the same rules and the same messages.

Values arrive as text from CSV files as often as typed from JSON, so the field types below accept
both: ``"12"`` for an integer, ``"yes"`` for a boolean. ``None`` on an optional field means "not
given": an update keeps the stored value and a new row gets the model's default.

The field types here (``Code``, ``Flag``, ``Money``, ...) are shared with ``network.schemas``.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    model_validator,
)

from homeport.core.errors import FieldError
from homeport.subscribers.models import CHANNELS, JOURNEY_STAGES, LIFESTYLES, STATUSES

#: The journey stages each status allows. A churned account is in the churned stage and only
#: there; a prospect has only signed up; an account being set up is somewhere between sign-up
#: and onboarding; a live (or suspended) account is onboarding, established or at risk.
STAGES_FOR_STATUS: dict[str, tuple[str, ...]] = {
    "prospect": ("signup",),
    "onboarding": ("signup", "installation", "onboarding"),
    "active": ("onboarding", "established", "at_risk"),
    "suspended": ("onboarding", "established", "at_risk"),
    "churned": ("churned",),
}
#: Statuses that need a plan: everyone between ordering and leaving.
STATUSES_NEEDING_PLAN = ("onboarding", "active", "suspended")

TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1", "on"})
FALSE_WORDS = frozenset({"no", "n", "false", "f", "0", "off"})
MAX_PRICE = Decimal("99999999.99")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_PHONE = re.compile(r"\+?[0-9][0-9 ().-]*")
_POSTCODE = re.compile(r"[A-Z0-9][A-Z0-9 -]*")
_CURRENCY = re.compile(r"[A-Z]{3}")
_AMOUNT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")


def shown(value: object, limit: int = 40) -> str:
    """A value quoted for an error message, shortened if long."""
    text = str(value)
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _as_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {type(value).__name__}")
    return value.strip()


def _text(max_length: int, *, required: bool, multiline: bool = False) -> AfterValidator:
    control = _CONTROL_BUT_NEWLINE if multiline else _CONTROL

    def check(value: str) -> str:
        value = value.strip()
        if multiline:  # Windows line ends inside a cell become plain ones
            value = value.replace("\r\n", "\n").replace("\r", "\n")
        if required and not value:
            raise ValueError("is empty; a value is required")
        if len(value) > max_length:
            raise ValueError(f"is {len(value)} characters long; at most {max_length} allowed")
        if control.search(value):
            what = "a control character" if multiline else "a line break or control character"
            raise ValueError(f"contains {what}")
        return value

    return AfterValidator(check)


def _code(max_length: int) -> AfterValidator:
    def check(value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("is empty; a code is required")
        if len(value) > max_length:
            raise ValueError(f"is {len(value)} characters long; at most {max_length} allowed")
        if not _CODE.fullmatch(value):
            raise ValueError(
                f"{shown(value)} is not a valid code: use letters, digits and "
                ". _ : / + - (no spaces), starting with a letter or digit"
            )
        return value

    return AfterValidator(check)


def one_of(choices: tuple[str, ...]) -> BeforeValidator:
    """Case-insensitive choice among ``choices`` (stored lower-case, as the models' checks)."""

    def check(value: Any) -> str:
        text = _as_text(value).lower()
        if not text:
            raise ValueError(f"is empty; one of {', '.join(choices)} is required")
        if text not in choices:
            raise ValueError(f"{shown(value)} is not one of: {', '.join(choices)}")
        return text

    return BeforeValidator(check)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = _as_text(value).lower() if isinstance(value, str) else None
    if text == "":
        raise ValueError("is empty; yes or no is required")
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(f"{shown(value)} is not a yes/no value: use yes/no, true/false or 1/0")


def _whole(minimum: int, maximum: int) -> BeforeValidator:
    def check(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError("must be a whole number, not true/false")
        if isinstance(value, int):
            number = value
        else:
            text = _as_text(value) if isinstance(value, str) else None
            if text == "":
                raise ValueError("is empty; a whole number is required")
            if not text or not re.fullmatch(r"[+-]?[0-9]+", text):
                raise ValueError(f"{shown(value)} is not a whole number")
            number = int(text)
        if not minimum <= number <= maximum:
            raise ValueError(f"{number} is out of range: must be between {minimum} and {maximum}")
        return number

    return BeforeValidator(check)


def _money(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal | float):
        raise ValueError("must be an amount such as 29.99")
    text = value.strip() if isinstance(value, str) else str(value)
    if not text:
        raise ValueError("is empty; an amount such as 29.99 is required")
    try:
        if isinstance(value, str) and not _AMOUNT.fullmatch(text):
            raise InvalidOperation(text)
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(
            f"{shown(value)} is not an amount: write it like 29.99, without a "
            "currency sign or thousands separator"
        ) from None
    if not amount.is_finite():
        raise ValueError(f"{shown(value)} is not an amount")
    if amount < 0:
        raise ValueError(f"{amount} is negative; prices are 0 or more")
    if amount > MAX_PRICE:
        raise ValueError(f"{amount} is too large (at most {MAX_PRICE})")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"{amount} has more than 2 decimal places")
    return amount.quantize(Decimal("0.01"))


def _email(value: str) -> str:
    email = value.strip().lower()
    if not email:
        return email
    local, at, domain = email.partition("@")
    if (
        not at
        or not local
        or "@" in domain
        or "." not in domain.strip(".")
        or domain.startswith(".")
        or domain.endswith(".")
        or ".." in domain
        or _CONTROL.search(email)
        or " " in email
        or len(email) > 254
    ):
        raise ValueError(f"{shown(value)} is not an e-mail address")
    return email


def _phone(value: str) -> str:
    phone = " ".join(value.split())
    if not phone:
        return phone
    digits = sum(ch.isdigit() for ch in phone)
    if not _PHONE.fullmatch(phone) or not 7 <= digits <= 15 or len(phone) > 32:
        raise ValueError(
            f"{shown(value)} is not a phone number: 7 to 15 digits, optionally "
            "with a leading + and spaces, dashes, dots or brackets"
        )
    return phone


def _postcode(value: str) -> str:
    postcode = " ".join(value.split()).upper()
    if not postcode:
        return postcode
    if not 2 <= len(postcode) <= 16 or not _POSTCODE.fullmatch(postcode):
        raise ValueError(
            f"{shown(value)} is not a postcode: 2 to 16 letters, digits, spaces or dashes"
        )
    return postcode


def _currency(value: Any) -> str:
    text = _as_text(value).upper()
    if not _CURRENCY.fullmatch(text):
        raise ValueError(
            f"{shown(value)} is not a currency: use a 3-letter ISO 4217 code "
            "such as GBP, EUR or USD"
        )
    return text


Code = Annotated[str, BeforeValidator(_as_text), _code(40)]
LongCode = Annotated[str, BeforeValidator(_as_text), _code(60)]
Name = Annotated[str, BeforeValidator(_as_text), _text(100, required=True)]
LongName = Annotated[str, BeforeValidator(_as_text), _text(200, required=True)]
Label = Annotated[str, BeforeValidator(_as_text), _text(60, required=False)]
Flag = Annotated[bool, BeforeValidator(_flag)]
Money = Annotated[Decimal, BeforeValidator(_money)]
Currency = Annotated[str, BeforeValidator(_currency)]
Mbps = Annotated[int, _whole(1, 1_000_000)]
Status = Annotated[str, one_of(STATUSES)]
JourneyStage = Annotated[str, one_of(JOURNEY_STAGES)]
Channel = Annotated[str, one_of(CHANNELS)]
Lifestyle = Annotated[str, one_of(LIFESTYLES)]
Email = Annotated[str, BeforeValidator(_as_text), AfterValidator(_email)]
Phone = Annotated[str, BeforeValidator(_as_text), AfterValidator(_phone)]
Postcode = Annotated[str, BeforeValidator(_as_text), AfterValidator(_postcode)]
Address = Annotated[str, BeforeValidator(_as_text), _text(300, required=False, multiline=True)]
City = Annotated[str, BeforeValidator(_as_text), _text(100, required=False)]


def whole_number(minimum: int, maximum: int) -> BeforeValidator:
    """A whole number in ``[minimum, maximum]`` from an int or its text ("64")."""
    return _whole(minimum, maximum)


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlanIn(_Input):
    """A broadband plan, matched on ``code``."""

    code: Code
    name: Name
    down_mbps: Mbps
    up_mbps: Mbps
    monthly_price: Money
    currency: Currency | None = None
    is_active: Flag | None = None


class BundleIn(_Input):
    """A value-based add-on for a lifestyle (mesh Wi-Fi, gaming priority, ...)."""

    code: Code
    name: Name
    lifestyle: Lifestyle
    monthly_price: Money
    description: Annotated[
        str, BeforeValidator(_as_text), _text(2000, required=False, multiline=True)
    ] = ""


class BundleSelection(_Input):
    """The complete set of bundles a subscriber has (an empty list removes them all)."""

    codes: tuple[Code, ...] = ()

    @model_validator(mode="after")
    def _no_repeats(self) -> BundleSelection:
        repeated = sorted({c for c in self.codes if self.codes.count(c) > 1})
        if repeated:
            raise RepeatedBundle(f"{', '.join(repeated)} listed more than once")
        return self


class SubscriberIn(_Input):
    """An account, matched on ``account_number``.

    ``status`` and ``journey_stage`` are always given together and must agree
    (:data:`STAGES_FOR_STATUS`). ``plan_code`` ``None`` means no plan, which only a prospect or
    a churned account may have. Optional contact fields: ``None`` keeps the stored value, ``""``
    clears it.
    """

    account_number: Code
    name: LongName
    email: Email
    plan_code: Code | None
    status: Status
    journey_stage: JourneyStage
    phone: Phone | None = None
    address: Address | None = None
    city: City | None = None
    postcode: Postcode | None = None
    preferred_channel: Channel | None = None
    consent_email: Flag | None = None
    consent_sms: Flag | None = None
    consent_marketing: Flag | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SubscriberIn:
        allowed = STAGES_FOR_STATUS[self.status]
        if self.journey_stage not in allowed:
            raise StatusMismatch(
                f"journey stage {self.journey_stage!r} does not fit status {self.status!r}; "
                f"with that status the stage is one of: {', '.join(allowed)}"
            )
        if self.plan_code is None and self.status in STATUSES_NEEDING_PLAN:
            raise MissingPlan(f"is empty; a subscriber with status {self.status!r} needs a plan")
        return self


class RepeatedBundle(ValueError):
    """Raised by :class:`BundleSelection` for a code given twice."""

    field = "codes"


class StatusMismatch(ValueError):
    """Raised by :class:`SubscriberIn` for a status and journey stage that disagree."""

    field = "journey_stage"


class MissingPlan(ValueError):
    """Raised by :class:`SubscriberIn` when the status needs a plan and none is given."""

    field = "plan_code"


def field_errors(
    exc: ValidationError, *, line: int | None = None, columns: dict[str, str] | None = None
) -> list[FieldError]:
    """Pydantic's errors as :class:`FieldError` s, one per field, in plain words.

    ``columns`` renames schema fields (e.g. to the CSV column a value came from); an error of a
    whole-model check is put on the field its exception names (``StatusMismatch.field``).
    """
    out: list[FieldError] = []
    for err in exc.errors(include_url=False):
        cause = (err.get("ctx") or {}).get("error")
        loc = [str(part) for part in err["loc"]]
        name = loc[0] if loc else getattr(cause, "field", "") or "row"
        if columns:
            name = columns.get(name, name)
        if len(loc) > 1 and loc[1].isdigit():
            name = f"{name}[{int(loc[1]) + 1}]"
        if isinstance(cause, ValueError):
            message = str(cause)
        elif err["type"] == "missing":
            message = "is required"
        else:
            message = f"{err['msg']} (got {shown(err.get('input'))})"
        out.append(FieldError(name, message, line))
    return out
