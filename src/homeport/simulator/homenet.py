"""Home networks: the gateway, mesh satellites and client devices of each home (vectorised).

Signal model (dBm, for the ``last_rssi_dbm`` a gateway reports): a device sits around -55 dBm,
give or take 8 dB; each home shifts all its devices by a few dB (walls, layout: sd 5 dB);
2.4 GHz carries about 4 dB further than 5 GHz and 6 GHz about 4 dB less; mesh satellites lift
the home by 6 dB, while a large home without mesh loses 6 dB (medium: 2 dB); and one device in
ten sits in a far corner 8-22 dB down. The result: about 86 % of devices at -67 dBm or better,
a tail of about 4 % below -75 dBm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from homeport.network.models import BAND_CAPABILITIES, DEVICE_KINDS
from homeport.simulator import hardware, profiles
from homeport.simulator.hardware import CLIENTS, GATEWAYS, MESH_LOCATIONS
from homeport.simulator.people import FIRST_NAMES
from homeport.subscribers.models import LIFESTYLES

US_PER_S = 1_000_000
KIND_INDEX = {k: i for i, k in enumerate(DEVICE_KINDS)}
SERIAL_PREFIX = {
    "Nokia": "ALCL",
    "Huawei": "HWTC",
    "AVM": "AVMB",
    "Zyxel": "S2ZX",
    "Sagemcom": "SGMC",
    "Technicolor": "CPTC",
    "Arris": "ARRS",
    "ZTE": "ZTEG",
}


def seconds(value: np.ndarray | float) -> np.ndarray:
    """Seconds (float) → timedelta64[us]."""
    return (np.asarray(value, dtype=float) * US_PER_S).astype("timedelta64[us]")


@dataclass(frozen=True)
class Gateways:
    columns: dict[str, Any]
    wifi_6ghz: np.ndarray
    mesh_model: list[str]


def gateways(
    rng: np.random.Generator,
    *,
    technology: list[str],
    installed_at: np.ndarray,
    last_seen_at: np.ndarray,
) -> Gateways:
    """One gateway per home; ids equal home ids (1..n)."""
    n = len(technology)
    tech = np.array(technology)
    vendor = np.empty(n, dtype=object)
    model = np.empty(n, dtype=object)
    kind = np.empty(n, dtype=object)
    firmware = np.empty(n, dtype=object)
    oui = np.zeros(n, dtype=np.int64)
    wifi6 = np.zeros(n, dtype=bool)
    mesh_model = np.empty(n, dtype=object)
    for t, options in GATEWAYS.items():
        idx = np.flatnonzero(tech == t)
        if len(idx) == 0:
            continue
        weights = np.array([g.weight for g in options])
        pick = rng.choice(len(options), size=len(idx), p=weights / weights.sum())
        for j, g in enumerate(options):
            sel = idx[pick == j]
            vendor[sel], model[sel], kind[sel] = g.vendor, g.model, g.kind
            wifi6[sel] = g.wifi_6ghz
            oui[sel] = hardware.oui_value(g.oui)
            mesh_model[sel] = g.mesh_model
            fw = rng.choice(len(g.firmware), size=len(sel), p=np.array(g.firmware_p))
            firmware[sel] = np.array(g.firmware, dtype=object)[fw]
    ids = np.arange(1, n + 1)
    serial_no = hardware.unique_nics(rng, n) << 8 | rng.integers(0, 256, size=n)
    columns: dict[str, Any] = {
        "id": ids,
        "home_id": ids,
        "device_id": [f"GW-{i:06d}" for i in ids.tolist()],
        "serial": [
            f"{SERIAL_PREFIX[v]}{s:08X}"
            for v, s in zip(vendor.tolist(), serial_no.tolist(), strict=True)
        ],
        "mac": hardware.mac_strings(oui, hardware.unique_nics(rng, n)),
        "kind": kind.tolist(),
        "vendor": vendor.tolist(),
        "model": model.tolist(),
        "firmware": firmware.tolist(),
        "installed_at": installed_at,
        "last_seen_at": last_seen_at,
    }
    return Gateways(columns, wifi6, mesh_model.tolist())


def mesh_count(rng: np.random.Generator, size: np.ndarray, has_mesh: np.ndarray) -> np.ndarray:
    """Satellites per home: one, or for a large home sometimes two or three."""
    n = len(size)
    extra = (rng.uniform(size=n) < 0.55).astype(int) + (rng.uniform(size=n) < 0.10).astype(int)
    return np.where(has_mesh, 1 + np.where(size == 2, extra, 0), 0)


def mesh_nodes(
    rng: np.random.Generator, *, counts: np.ndarray, mesh_model: list[str]
) -> dict[str, Any]:
    home = np.repeat(np.arange(1, len(counts) + 1), counts)
    n = len(home)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(n) - np.repeat(first, counts)
    loc_start = np.repeat(rng.integers(0, len(MESH_LOCATIONS), size=len(counts)), counts)
    wired = rng.uniform(size=n) < 0.15
    rssi = np.clip(np.rint(rng.normal(-62.0, 6.0, size=n)), -85, -40).astype(int)
    models = np.array(mesh_model, dtype=object)
    return {
        "id": np.arange(1, n + 1),
        "home_id": home,
        "node_id": [f"SAT-{r + 1}" for r in rank.tolist()],
        "model": models[home - 1].tolist() if n else [],
        "location": [
            MESH_LOCATIONS[(s + r) % len(MESH_LOCATIONS)]
            for s, r in zip(loc_start.tolist(), rank.tolist(), strict=True)
        ],
        "backhaul": np.where(wired, "ethernet", "wireless").tolist(),
        "backhaul_rssi_dbm": [
            None if w else int(v) for w, v in zip(wired.tolist(), rssi.tolist(), strict=True)
        ],
    }


def device_counts(
    rng: np.random.Generator, *, lifestyle: np.ndarray, people: np.ndarray, installed: np.ndarray
) -> np.ndarray:
    """(homes x DEVICE_KINDS) Poisson counts from the lifestyle's expectations; uninstalled
    homes have none, installed ones at least a phone."""
    lam = np.zeros((len(lifestyle), len(DEVICE_KINDS)))
    for li, name in enumerate(LIFESTYLES):
        sel = lifestyle == li
        if not sel.any():
            continue
        per_person = np.array([profiles.PER_PERSON.get(k, 0.0) for k in DEVICE_KINDS])
        fixed = np.array(
            [
                profiles.PER_HOME.get(k, 0.0) + profiles.LIFESTYLE_EXTRA[name].get(k, 0.0)
                for k in DEVICE_KINDS
            ]
        )
        lam[sel] = np.outer(people[sel], per_person) + fixed
    counts = rng.poisson(lam)
    counts[~installed] = 0
    total = counts.sum(axis=1)
    lonely = installed & (total == 0)
    counts[lonely, KIND_INDEX["phone"]] = 1
    over = total > profiles.MAX_DEVICES_PER_HOME
    if over.any():
        scale = profiles.MAX_DEVICES_PER_HOME / total[over]
        counts[over] = np.floor(counts[over] * scale[:, None]).astype(counts.dtype)
    return counts


@dataclass(frozen=True)
class HomeContext:
    """Per-home inputs of device generation (arrays indexed by home id - 1)."""

    wifi_6ghz: np.ndarray
    size: np.ndarray
    mesh: np.ndarray
    coverage_db: np.ndarray
    first_name: list[str]
    installed_at: np.ndarray
    #: End of the home's life on the network: churn time, else now.
    until: np.ndarray
    active: np.ndarray


def devices(
    rng: np.random.Generator,
    *,
    home_ids: np.ndarray,
    counts: np.ndarray,
    ctx: HomeContext,
    first_id: int,
    nic_a: int,
    nic_b: int,
    now: np.datetime64,
) -> dict[str, Any]:
    """Client devices of the homes ``home_ids`` (``counts`` rows for them); device ids start at
    ``first_id``. MACs end in an affine permutation of the device id, so they never repeat
    within a home."""
    per_home = counts.sum(axis=1)
    n = int(per_home.sum())
    home = np.repeat(home_ids, per_home)
    h = home - 1
    kind = np.repeat(np.tile(np.arange(len(DEVICE_KINDS)), len(home_ids)), counts.ravel())
    ids = np.arange(first_id, first_id + n)
    vendor = np.empty(n, dtype=object)
    model = np.empty(n, dtype=object)
    oui = np.zeros(n, dtype=np.int64)
    capability = np.zeros(n, dtype=int)
    wired = np.zeros(n, dtype=bool)
    private = np.zeros(n, dtype=bool)
    for k, kname in enumerate(DEVICE_KINDS):
        idx = np.flatnonzero(kind == k)
        if len(idx) == 0:
            continue
        options = CLIENTS[kname]
        weights = np.array([v.weight for v in options])
        pick = rng.choice(len(options), size=len(idx), p=weights / weights.sum())
        for j, v in enumerate(options):
            sel = idx[pick == j]
            vendor[sel] = v.vendor
            model[sel] = np.array(v.models, dtype=object)[
                rng.integers(0, len(v.models), size=len(sel))
            ]
            oui[sel] = np.array([hardware.oui_value(o) for o in v.ouis])[
                rng.integers(0, len(v.ouis), size=len(sel))
            ]
        capability[idx] = rng.choice(3, size=len(idx), p=np.array(profiles.BAND_CAPABILITY[kname]))
        wired[idx] = rng.uniform(size=len(idx)) < profiles.WIRED.get(kname, 0.0)
        private[idx] = rng.uniform(size=len(idx)) < profiles.PRIVATE_MAC.get(kname, 0.0)
    # Randomised MACs: a random first byte with the locally administered bit set.
    local = ((rng.integers(0, 256, size=n) & 0xFC) | 0x02) << 16 | rng.integers(0, 1 << 16, size=n)
    prefix = np.where(private, local, oui)
    nic = (ids.astype(np.int64) * nic_a + nic_b) & 0xFFFFFF
    band = _bands(rng, capability, wired, ctx.wifi_6ghz[h])
    rssi = _rssi(rng, band, ctx, h)
    first_seen, last_seen = _seen(rng, ctx, h, now)
    return {
        "id": ids,
        "home_id": home,
        "mac": hardware.mac_strings(prefix, nic),
        "name": _names(rng, kind, model, ctx, h),
        "kind": np.array(DEVICE_KINDS, dtype=object)[kind].tolist(),
        "vendor": vendor.tolist(),
        "band_capability": np.array(BAND_CAPABILITIES, dtype=object)[capability].tolist(),
        "last_band": band.tolist(),
        "last_rssi_dbm": [
            None if b is None else int(r) for b, r in zip(band.tolist(), rssi.tolist(), strict=True)
        ],
        "first_seen_at": first_seen,
        "last_seen_at": last_seen,
    }


def _bands(
    rng: np.random.Generator, capability: np.ndarray, wired: np.ndarray, gw_6ghz: np.ndarray
) -> np.ndarray:
    """The band each wireless device was last seen on (None: plugged in by Ethernet)."""
    n = len(capability)
    u = rng.uniform(size=n)
    v = rng.uniform(size=n)
    band = np.full(n, "2.4GHz", dtype=object)
    band[(capability >= 1) & (u < 0.82)] = "5GHz"
    band[(capability == 2) & gw_6ghz & (v < 0.65)] = "6GHz"
    band[wired] = None
    return band


def _rssi(
    rng: np.random.Generator, band: np.ndarray, ctx: HomeContext, h: np.ndarray
) -> np.ndarray:
    n = len(band)
    shift = np.select([band == "2.4GHz", band == "6GHz"], [4.0, -4.0], 0.0)
    size = ctx.size[h]
    mesh = ctx.mesh[h]
    layout = np.where(mesh, 6.0, np.select([size == 2, size == 1], [-6.0, -2.0], 0.0))
    corner = np.where(rng.uniform(size=n) < 0.1, rng.uniform(8.0, 22.0, size=n), 0.0)
    rssi = -55.0 + ctx.coverage_db[h] + rng.normal(0.0, 8.0, size=n) + shift + layout - corner
    return np.asarray(np.clip(np.rint(rssi), -92, -25), dtype=int)


def _seen(
    rng: np.random.Generator, ctx: HomeContext, h: np.ndarray, now: np.datetime64
) -> tuple[np.ndarray, np.ndarray]:
    """First seen: after installation, earlier more likely. Last seen: minutes to hours ago
    for most, days ago for the 12 % away or switched off; at the churn time for past homes."""
    n = len(h)
    start = ctx.installed_at[h]
    until = ctx.until[h]
    life_s = (until - start).astype("timedelta64[us]").astype(np.int64) / US_PER_S
    first = start + seconds(life_s * rng.uniform(size=n) ** 2 * 0.9)
    away = rng.uniform(size=n) < 0.12
    ago_s = np.where(
        away, rng.uniform(86_400, 21 * 86_400, size=n), rng.exponential(2 * 3600, size=n)
    )
    ago_s = np.where(ctx.active[h], ago_s, rng.exponential(3600, size=n))
    last = np.maximum(until - seconds(ago_s), first)
    return first, np.minimum(last, now)


def _names(
    rng: np.random.Generator, kind: np.ndarray, model: np.ndarray, ctx: HomeContext, h: np.ndarray
) -> list[str]:
    n = len(kind)
    own = rng.uniform(size=n) < 0.45
    other = rng.integers(0, len(FIRST_NAMES), size=n)
    room = rng.integers(0, len(hardware.ROOMS), size=n)
    kinds = [DEVICE_KINDS[k] for k in kind.tolist()]
    out: list[str] = []
    for i, kname in enumerate(kinds):
        if kname in hardware.PERSONAL_KINDS:
            person = ctx.first_name[h[i]] if own[i] else FIRST_NAMES[other[i]]
            out.append(f"{person}'s {model[i]}")
        elif kname in hardware.ROOM_KINDS:
            out.append(f"{hardware.ROOMS[room[i]]} {model[i]}")
        else:
            out.append(str(model[i]))
    return out
