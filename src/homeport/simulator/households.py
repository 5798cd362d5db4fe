"""Who lives where: per-home traits (region, lifestyle, people, size, technology, plan), the
subscriber's contact details and consent, and the bundles they take."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from homeport.network.models import TECHNOLOGIES
from homeport.simulator import people, profiles
from homeport.subscribers.models import CHANNELS, LIFESTYLES


@dataclass(frozen=True)
class Households:
    """Per-subscriber (= per-home) attributes, arrays of length n."""

    region: np.ndarray
    city: list[str]
    area: list[str]
    district: np.ndarray
    lifestyle: np.ndarray
    people: np.ndarray
    size: np.ndarray
    tech: np.ndarray
    plan: np.ndarray  # index into profiles.PLANS


def draw(rng: np.random.Generator, n: int, regions: tuple[people.RegionSpec, ...]) -> Households:
    """Traits of ``n`` homes spread over ``regions``; plans lean faster for some lifestyles."""
    region = people.pick(rng, [r.code for r in regions], n, [r.weight for r in regions])
    city_pick = rng.integers(0, 1 << 30, size=n)
    district = np.zeros(n, dtype=np.int64)
    city: list[str] = [""] * n
    area: list[str] = [""] * n
    for r, spec in enumerate(regions):
        idx = np.flatnonzero(region == r)
        choice = city_pick[idx] % len(spec.cities)
        for c, (name, post_area, low, high) in enumerate(spec.cities):
            sel = idx[choice == c]
            district[sel] = rng.integers(low, high + 1, size=len(sel))
            for i in sel.tolist():
                city[i], area[i] = name, post_area
    lifestyle = people.pick(rng, LIFESTYLES, n, [profiles.LIFESTYLE_MIX[s] for s in LIFESTYLES])
    size_people = np.zeros(n, dtype=np.int64)
    for li, name in enumerate(LIFESTYLES):
        sel = lifestyle == li
        size_people[sel] = 1 + rng.choice(6, size=int(sel.sum()), p=profiles.PEOPLE[name])
    u = rng.uniform(size=n)
    cum = np.cumsum(np.array(profiles.HOME_SIZE), axis=1)[size_people - 1]
    size = (u[:, None] > cum[:, :2]).sum(axis=1)
    tech = people.pick(rng, TECHNOLOGIES, n, [profiles.TECHNOLOGY_MIX[t] for t in TECHNOLOGIES])
    plan = np.zeros(n, dtype=np.int64)
    for t, tname in enumerate(TECHNOLOGIES):
        ladder = [i for i, p in enumerate(profiles.PLANS) if p.technology == tname]
        base = np.array([profiles.PLANS[i].weight for i in ladder])
        rank = np.linspace(-0.5, 0.5, len(ladder)) if len(ladder) > 1 else np.zeros(1)
        for li, name in enumerate(LIFESTYLES):
            sel = np.flatnonzero((tech == t) & (lifestyle == li))
            w = base * np.exp(profiles.PLAN_TILT[name] * rank)
            plan[sel] = np.array(ladder)[rng.choice(len(ladder), size=len(sel), p=w / w.sum())]
    return Households(region, city, area, district, lifestyle, size_people, size, tech, plan)


@dataclass(frozen=True)
class Contacts:
    name: list[str]
    first_name: list[str]
    email: list[str]
    phone: list[str]
    address: list[str]
    postcode: list[str]
    account_number: list[str]
    preferred_channel: list[str]
    consent_email: np.ndarray
    consent_sms: np.ndarray
    consent_marketing: np.ndarray


def contacts(rng: np.random.Generator, homes: Households) -> Contacts:
    """Names, reachable channels and consent; the preferred channel is one they can use."""
    n = len(homes.region)
    first = [people.FIRST_NAMES[i] for i in people.pick(rng, people.FIRST_NAMES, n).tolist()]
    last = [people.LAST_NAMES[i] for i in people.pick(rng, people.LAST_NAMES, n).tolist()]
    email = people.emails(rng, first, last)
    no_email = rng.uniform(size=n) < profiles.NO_EMAIL
    email = ["" if gone else e for e, gone in zip(email, no_email.tolist(), strict=True)]
    phone, mobile = people.phones(rng, n)
    has_phone = np.array([p != "" for p in phone])
    postcode = people.postcodes(rng, homes.area, homes.district)
    flat = rng.uniform(size=n) < np.array(profiles.FLAT_BY_SIZE)[homes.size]
    address = people.street_addresses(rng, flat)
    channel = np.zeros(n, dtype=np.int64)
    for li, name in enumerate(LIFESTYLES):
        sel = homes.lifestyle == li
        channel[sel] = rng.choice(
            len(CHANNELS), size=int(sel.sum()), p=profiles.PREFERRED_CHANNEL[name]
        )
    ch = np.array(CHANNELS, dtype=object)[channel]
    ch[(ch == "email") & no_email] = "phone"
    ch[(ch == "sms") & ~mobile] = "phone"
    ch[(ch == "phone") & ~has_phone] = "app"
    return Contacts(
        name=[f"{f} {la}" for f, la in zip(first, last, strict=True)],
        first_name=first,
        email=email,
        phone=phone,
        address=address,
        postcode=postcode,
        account_number=people.account_numbers(rng, n),
        preferred_channel=ch.tolist(),
        consent_email=~no_email & (rng.uniform(size=n) < profiles.CONSENT_EMAIL),
        consent_sms=mobile & (rng.uniform(size=n) < profiles.CONSENT_SMS),
        consent_marketing=rng.uniform(size=n) < profiles.CONSENT_MARKETING,
    )


def bundles(rng: np.random.Generator, homes: Households) -> np.ndarray:
    """(homes x BUNDLES) take-up: lifestyle bundles, and mesh Wi-Fi by home size."""
    n = len(homes.region)
    column = {b.code: i for i, b in enumerate(profiles.BUNDLES)}
    takes = np.zeros((n, len(profiles.BUNDLES)), dtype=bool)
    for li, name in enumerate(LIFESTYLES):
        sel = homes.lifestyle == li
        for code, p in profiles.BUNDLE_TAKE_UP[name].items():
            takes[:, column[code]] |= sel & (rng.uniform(size=n) < p)
    factor = np.array([profiles.MESH_LIFESTYLE[s] for s in LIFESTYLES])[homes.lifestyle]
    p_mesh = np.minimum(0.9, np.array(profiles.MESH_BY_SIZE)[homes.size] * factor)
    takes[:, column[profiles.MESH_BUNDLE]] = rng.uniform(size=n) < p_mesh
    return takes
