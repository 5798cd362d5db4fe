"""The simulator's tables of plans, bundles, lifestyles and devices agree with the schema."""

from __future__ import annotations

from homeport.network.models import BAND_CAPABILITIES, DEVICE_KINDS, TECHNOLOGIES
from homeport.simulator import hardware, profiles
from homeport.simulator.behaviour import BASE_STATE_P, base_daily_hazard
from homeport.simulator.homenet import SERIAL_PREFIX
from homeport.subscribers.models import CHANNELS, LIFESTYLES


def test_tables_name_only_known_values() -> None:
    assert set(profiles.TECHNOLOGY_MIX) == set(TECHNOLOGIES) == set(hardware.ACCESS)
    assert set(hardware.GATEWAYS) == set(TECHNOLOGIES)
    assert {p.technology for p in profiles.PLANS} == set(TECHNOLOGIES)
    for table in (
        profiles.LIFESTYLE_MIX,
        profiles.PEOPLE,
        profiles.PLAN_TILT,
        profiles.BUNDLE_TAKE_UP,
        profiles.LIFESTYLE_EXTRA,
        profiles.MESH_LIFESTYLE,
        profiles.PREFERRED_CHANNEL,
    ):
        assert set(table) == set(LIFESTYLES)
    codes = {b.code for b in profiles.BUNDLES}
    assert profiles.MESH_BUNDLE in codes
    assert all(set(t) <= codes - {profiles.MESH_BUNDLE} for t in profiles.BUNDLE_TAKE_UP.values())
    assert {b.lifestyle for b in profiles.BUNDLES} == set(LIFESTYLES)
    kinds = set(DEVICE_KINDS)
    assert set(profiles.BAND_CAPABILITY) == kinds == set(hardware.CLIENTS)
    assert len(BAND_CAPABILITIES) == 3
    for table in (
        profiles.PER_PERSON,
        profiles.PER_HOME,
        profiles.WIRED,
        profiles.PRIVATE_MAC,
        *profiles.LIFESTYLE_EXTRA.values(),
    ):
        assert set(table) <= kinds
    assert all(len(p) == len(CHANNELS) for p in profiles.PREFERRED_CHANNEL.values())


def test_shares_add_up() -> None:
    shares = [profiles.TECHNOLOGY_MIX, profiles.LIFESTYLE_MIX]
    assert all(abs(sum(s.values()) - 1) < 1e-9 for s in shares)
    for dist in (
        *profiles.PEOPLE.values(),
        *profiles.PREFERRED_CHANNEL.values(),
        *profiles.BAND_CAPABILITY.values(),
        *profiles.HOME_SIZE,
        BASE_STATE_P,
    ):
        assert abs(sum(dist) - 1) < 1e-9
    for models in hardware.GATEWAYS.values():
        for g in models:
            assert abs(sum(g.firmware_p) - 1) < 1e-9 and len(g.firmware) == len(g.firmware_p)
            assert g.vendor in SERIAL_PREFIX
    for spec in hardware.ACCESS.values():
        assert abs(sum(spec.capacity_p) - 1) < 1e-9 and len(spec.capacities) == len(spec.capacity_p)
        assert 0 < spec.fill[0] < spec.fill[1] <= 1


def test_devices_per_home_are_plausible() -> None:
    general = sum(profiles.expected_devices("general", 2).values())
    smart = sum(profiles.expected_devices("smart_home", 2).values())
    assert 6 < general < 12 < smart < 30
    assert profiles.expected_devices("gaming", 2)["console"] > 1.5


def test_churn_hazard_averages_the_monthly_rate() -> None:
    monthly = 1 - (1 - base_daily_hazard()) ** 30.4375
    assert 0.008 < monthly < 0.012  # ordinary subscribers; at-risk ones lift the mean to 1.2 %
