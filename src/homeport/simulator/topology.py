"""Regions → access nodes → ports, and which port each home hangs off.

Homes of one region and technology are sorted by postcode and fill ports in turn, so neighbours
share a port and an access node (an outage on a port hits one area, as in a real network). Each
port is filled to a drawn share of its capacity (its split ratio, line card or sector size) and
never beyond it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from homeport.simulator.hardware import ACCESS
from homeport.simulator.people import RegionSpec


@dataclass
class Topology:
    regions: dict[str, list[object]] = field(default_factory=dict)
    nodes: dict[str, list[object]] = field(default_factory=dict)
    ports: dict[str, list[object]] = field(default_factory=dict)
    #: Port id of each home (same order as the homes passed in).
    home_port: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: Access node id of each port id - 1.
    port_node: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def port_loads(
    rng: np.random.Generator, technology: str, homes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Capacity and number of homes of each port needed to hold ``homes`` homes."""
    spec = ACCESS[technology]
    cap_options = np.array(spec.capacities)
    low, high = spec.fill
    capacity = np.zeros(0, dtype=np.int64)
    load = np.zeros(0, dtype=np.int64)
    while load.sum() < homes:
        k = max(4, int(homes / (cap_options.min() * low)) + 1)
        cap = rng.choice(cap_options, size=k, p=np.array(spec.capacity_p))
        fill = np.maximum(1, np.floor(cap * rng.uniform(low, high, size=k))).astype(np.int64)
        capacity = np.concatenate([capacity, cap.astype(np.int64)])
        load = np.concatenate([load, fill])
    cum = np.cumsum(load)
    used = int(np.searchsorted(cum, homes) + 1)
    load = load[:used].copy()
    load[-1] = homes - (int(cum[used - 2]) if used > 1 else 0)
    return capacity[:used], load


def build(
    rng: np.random.Generator,
    *,
    regions: tuple[RegionSpec, ...],
    home_region: np.ndarray,
    home_tech: np.ndarray,
    technologies: tuple[str, ...],
    postcode: list[str],
    city: list[str],
) -> Topology:
    """``home_region``/``home_tech`` index ``regions``/``technologies``; ids start at 1."""
    n = len(home_region)
    topo = Topology()
    topo.regions = {
        "id": list(range(1, len(regions) + 1)),
        "code": [r.code for r in regions],
        "name": [r.name for r in regions],
    }
    node_cols: dict[str, list[object]] = {
        k: [] for k in ("id", "region_id", "code", "name", "kind", "vendor", "model")
    }
    port_cols: dict[str, list[object]] = {
        k: [] for k in ("id", "access_node_id", "name", "capacity")
    }
    home_port = np.zeros(n, dtype=np.int64)
    port_node: list[int] = []
    post = np.array(postcode)
    for r, region in enumerate(regions):
        seq: dict[str, int] = {}
        for t, tech in enumerate(technologies):
            members = np.flatnonzero((home_region == r) & (home_tech == t))
            if len(members) == 0:
                continue
            spec = ACCESS[tech]
            members = members[np.argsort(post[members], kind="stable")]
            capacity, load = port_loads(rng, tech, len(members))
            vendor, model = spec.node_models[int(rng.integers(0, len(spec.node_models)))]
            starts = np.concatenate([[0], np.cumsum(load)[:-1]])
            for j in range(len(load)):
                if j % spec.ports_per_node == 0:
                    number = seq.get(spec.node_kind, 0) + 1
                    seq[spec.node_kind] = number
                    node_id = len(node_cols["id"]) + 1
                    first_home = int(members[starts[j]])
                    node_cols["id"].append(node_id)
                    node_cols["region_id"].append(r + 1)
                    node_cols["code"].append(f"{region.code}-{spec.node_kind.upper()}-{number:03d}")
                    node_cols["name"].append(f"{city[first_home]} {spec.node_name} {number}")
                    node_cols["kind"].append(spec.node_kind)
                    node_cols["vendor"].append(vendor)
                    node_cols["model"].append(model)
                k = j % spec.ports_per_node
                port_id = len(port_cols["id"]) + 1
                port_cols["id"].append(port_id)
                port_cols["access_node_id"].append(node_id)
                port_cols["name"].append(
                    spec.port_name.format(
                        slot=k // spec.ports_per_slot + 1, port=k % spec.ports_per_slot + 1
                    )
                )
                port_cols["capacity"].append(int(capacity[j]))
                port_node.append(node_id)
                home_port[members[starts[j] : starts[j] + load[j]]] = port_id
    topo.nodes = node_cols
    topo.ports = port_cols
    topo.home_port = home_port
    topo.port_node = np.array(port_node, dtype=np.int64)
    return topo
