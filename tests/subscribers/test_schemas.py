"""The input schemas: what they accept, how they normalise, and the words they refuse with."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from homeport.core.errors import FieldError
from homeport.network.schemas import AccessNodeIn, HomeIn, PortIn
from homeport.subscribers.schemas import (
    BundleSelection,
    PlanIn,
    SubscriberIn,
    field_errors,
)

PLAN = {
    "code": "FTTP-500",
    "name": "Fibre 500",
    "down_mbps": "500",
    "up_mbps": "100",
    "monthly_price": "35.00",
}
SUBSCRIBER = {
    "account_number": "A-1",
    "name": "Ann Smith",
    "email": "ann@example.net",
    "plan_code": "FTTP-500",
    "status": "active",
    "journey_stage": "established",
}


def _errors(model: type[BaseModel], **values: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(values)
    return {e.field: e.message for e in field_errors(caught.value)}


def test_plan_values_are_parsed_from_text() -> None:
    plan = PlanIn.model_validate(
        {**PLAN, "monthly_price": " 29.9 ", "currency": "eur", "is_active": "No"}
    )
    assert plan.down_mbps == 500 and plan.monthly_price == Decimal("29.90")
    assert plan.currency == "EUR" and plan.is_active is False


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("down_mbps", "1.5", "not a whole number"),
        ("down_mbps", "0", "out of range"),
        ("up_mbps", "", "is empty"),
        ("monthly_price", "-1", "negative"),
        ("monthly_price", "1.234", "more than 2 decimal places"),
        ("monthly_price", "£5", "not an amount"),
        ("monthly_price", "1e3", "not an amount"),
        ("monthly_price", "NaN", "not an amount"),
        ("currency", "pounds", "3-letter"),
        ("is_active", "maybe", "yes/no"),
        ("code", "has space", "not a valid code"),
        ("code", "x" * 41, "at most 40"),
        ("name", "  ", "is empty"),
        ("name", "two\nlines", "line break"),
    ],
)
def test_plan_refusals_name_the_field_and_the_reason(field: str, value: str, words: str) -> None:
    errors = _errors(PlanIn, **{**PLAN, field: value})
    assert list(errors) == [field]
    assert words in errors[field]


@pytest.mark.parametrize("word", ["yes", "Y", "true", "T", "1", "on", "YES"])
def test_yes_words(word: str) -> None:
    assert SubscriberIn.model_validate({**SUBSCRIBER, "consent_sms": word}).consent_sms is True


@pytest.mark.parametrize("word", ["no", "N", "false", "F", "0", "off"])
def test_no_words(word: str) -> None:
    assert SubscriberIn.model_validate({**SUBSCRIBER, "consent_sms": word}).consent_sms is False


def test_subscriber_contact_fields_are_normalised() -> None:
    sub = SubscriberIn.model_validate(
        {
            **SUBSCRIBER,
            "email": " Ann@Example.NET ",
            "postcode": " sw1a   1aa ",
            "phone": "+44  20 7946 0000",
            "status": "ACTIVE",
            "preferred_channel": "SMS",
            "address": "Flat 2\n10 High Street",
        }
    )
    assert sub.email == "ann@example.net" and sub.postcode == "SW1A 1AA"
    assert sub.phone == "+44 20 7946 0000" and sub.status == "active"
    assert sub.preferred_channel == "sms" and sub.address == "Flat 2\n10 High Street"


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("email", "ann@", "not an e-mail address"),
        ("email", "ann@example", "not an e-mail address"),
        ("email", "a b@example.net", "not an e-mail address"),
        ("email", "a@b@example.net", "not an e-mail address"),
        ("phone", "12345", "7 to 15 digits"),
        ("phone", "call me", "not a phone number"),
        ("postcode", "X", "2 to 16"),
        ("postcode", "A" * 17, "2 to 16"),
        ("postcode", "SW1A;1AA", "not a postcode"),
        ("status", "gone", "is not one of: prospect, onboarding, active, suspended, churned"),
        ("journey_stage", "limbo", "is not one of"),
        ("preferred_channel", "pigeon", "is not one of"),
        ("city", "Leeds\x00", "control character"),
    ],
)
def test_subscriber_refusals(field: str, value: str, words: str) -> None:
    errors = _errors(SubscriberIn, **{**SUBSCRIBER, field: value})
    assert list(errors) == [field]
    assert words in errors[field]


def test_an_empty_email_is_allowed() -> None:
    assert SubscriberIn.model_validate({**SUBSCRIBER, "email": ""}).email == ""


@pytest.mark.parametrize(
    ("status", "stage", "ok"),
    [
        ("churned", "churned", True),
        ("churned", "established", False),
        ("active", "churned", False),
        ("prospect", "signup", True),
        ("prospect", "established", False),
        ("onboarding", "installation", True),
        ("active", "signup", False),
        ("suspended", "at_risk", True),
    ],
)
def test_status_and_journey_stage_must_agree(status: str, stage: str, ok: bool) -> None:
    values = {**SUBSCRIBER, "status": status, "journey_stage": stage}
    if ok:
        SubscriberIn.model_validate(values)
    else:
        errors = _errors(SubscriberIn, **values)
        assert "does not fit status" in errors["journey_stage"]


def test_live_subscribers_need_a_plan_prospects_do_not() -> None:
    errors = _errors(SubscriberIn, **{**SUBSCRIBER, "plan_code": None})
    assert "needs a plan" in errors["plan_code"]
    prospect = {**SUBSCRIBER, "plan_code": None, "status": "prospect", "journey_stage": "signup"}
    assert SubscriberIn.model_validate(prospect).plan_code is None


def test_bundle_selection_refuses_repeats_and_bad_codes() -> None:
    assert "listed more than once" in _errors(BundleSelection, codes=["A", "B", "A"])["codes"]
    assert "not a valid code" in _errors(BundleSelection, codes=["A", "no good"])["codes[2]"]


def test_topology_schemas() -> None:
    node = AccessNodeIn.model_validate({"code": "OLT-1", "region_code": "N", "kind": "OLT"})
    assert node.kind == "olt" and node.name is None
    assert (
        "is not one of: olt, dslam, cmts, tower"
        in _errors(AccessNodeIn, code="X", region_code="N", kind="switch")["kind"]
    )
    assert (
        "out of range" in _errors(PortIn, access_node_code="X", name="1", capacity="0")["capacity"]
    )
    assert PortIn.model_validate({"access_node_code": "X", "name": "0/1/3"}).capacity is None


def test_a_home_port_is_named_by_node_and_port_together() -> None:
    assert HomeIn.model_validate({"technology": "fttp"}).port is None
    assert (
        "named by access_node_code and port"
        in _errors(HomeIn, technology="fttp", access_node_code="OLT-1")["port"]
    )
    assert "is empty" in _errors(HomeIn, port="0/1/1")["access_node_code"]


def test_field_errors_can_rename_fields_and_carry_the_line() -> None:
    with pytest.raises(ValidationError) as caught:
        PortIn.model_validate({"access_node_code": "X", "name": "bad name"})
    assert field_errors(caught.value, line=7, columns={"name": "port"}) == [
        FieldError("port", field_errors(caught.value)[0].message, 7)
    ]
