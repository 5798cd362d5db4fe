"""Fit healthy line quality per access technology from the Ofcom UK home broadband panel.

The panel (SamKnows measurement units in real UK homes, 2013-2015; ``data/broadband/`` in the
shared data folder) gives, per home, the technology, the headline ("up to") speed of the package
and 24-hour averages of download, upload, latency, jitter and packet loss. This module turns it
into the distributions the simulator draws from and writes them to ``data/line_profiles.json``,
which is committed: the simulator reads only that file at run time, never the panel.

Run it again when the panel or the method changes::

    python -m homeport.simulator.ofcom /path/to/shared/data/broadband

Method, per technology (ADSL, FTTC, FTTP, cable):

* metrics per home: ``down_frac`` (24 h mean download / headline speed), ``up_frac`` (24 h mean
  upload / the package's upload rate, see below), ``peak_down_ratio`` (8-10 pm weekday download /
  24 h download), ``latency_ms``, ``jitter_ms`` (mean of up and down jitter) and ``loss_pct``;
* each metric's empirical quantiles at :data:`PROBABILITIES` (the marginal distributions);
* the correlation matrix of the metrics' normal scores (a Gaussian copula), so that a slow DSL
  line also tends to have more latency and loss, as in the panel.

Data handling: ``#NULL!``, ``NA`` and empty cells are missing; 2013 packet loss carries a ``%``
suffix; 2014 stores packet loss as a fraction (median 0.001 where 2013 and 2015 have about
0.08 %), so it is multiplied by 100. 2013 labels FTTC and FTTP both "FTTx" and puts the access
type in the ISP column; 2015 gives the package ("BT 40") instead of the headline speed. Rows
whose headline speed is unknown (2015 FTTP units, "FTTC Other") are left out.

The panel has no upload headline, so a package's upload rate is taken as the 95th percentile of
the best hourly upload (``...Max``) among the lines of the same year, technology and headline
speed (at least :data:`MIN_GROUP` lines); rarer packages are left out. The quantiles are
unweighted: the panel's weights correct the ISP mix of the national figures, while the simulator
needs the spread within one technology.

FWA (4G/5G fixed wireless) is not in the panel. Its profile is an explicit **assumption**, stated
in the JSON: speeds as variable as ADSL's (a radio link depends on signal as DSL on distance),
the evening slowdown of cable (a shared medium), ADSL's latency plus 15 ms (radio access and the
mobile core), three times ADSL's jitter and twice its loss, with ADSL's correlations.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

DATA_PATH = Path(__file__).resolve().parent / "data" / "line_profiles.json"
YEARS = (2013, 2014, 2015)
FITTED = ("adsl", "fttc", "fttp", "cable")
METRICS = ("down_frac", "up_frac", "peak_down_ratio", "latency_ms", "jitter_ms", "loss_pct")
PROBABILITIES = (
    0.001,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.15,
    0.2,
    0.25,
    0.3,
    0.35,
    0.4,
    0.45,
    0.5,
    0.55,
    0.6,
    0.65,
    0.7,
    0.75,
    0.8,
    0.85,
    0.9,
    0.95,
    0.975,
    0.99,
    0.995,
    0.999,
)
MIN_GROUP = 8
MISSING = frozenset({"", "#NULL!", "NA", "NaN"})

FWA_ASSUMPTION = (
    "No Ofcom panel data for fixed wireless. Assumed: down_frac, up_frac from ADSL (signal-"
    "dependent like distance-dependent DSL); peak_down_ratio from cable (shared radio cell); "
    "latency_ms = ADSL + 15 ms (radio access and mobile core); jitter_ms = 3 x ADSL; "
    "loss_pct = 2 x ADSL; correlations from ADSL."
)


@dataclass(frozen=True)
class PanelLine:
    """One panel home, as read from one year's file."""

    year: int
    technology: str
    headline_mbps: float
    down_mbps: float
    peak_down_mbps: float
    up_mbps: float
    up_max_mbps: float
    latency_ms: float
    jitter_ms: float
    loss_pct: float


def _num(text: str | None) -> float | None:
    if text is None:
        return None
    text = text.strip().rstrip("%").strip()
    if text in MISSING:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _leading_number(word: str) -> float | None:
    """``"80"`` → 80, ``"15-fibre"`` → 15, ``"Other"`` → None."""
    match = re.match(r"\d+", word.strip())
    return float(match.group()) if match else None


def _technology(year: int, row: dict[str, str]) -> str | None:
    if year == 2013:
        raw = row["Technology"].strip()
        if raw == "FTTx":
            return {"FTTC": "fttc", "FTTP": "fttp"}.get(row["ISP"].strip())
        return {"DSL": "adsl", "ADSL2+": "adsl", "Cable": "cable"}.get(raw)
    if year == 2014:
        return {"ADSL": "adsl", "FTTC": "fttc", "FTTP": "fttp", "Cable": "cable"}.get(
            row["Technology"].strip()
        )
    raw = row["Tech"].strip()
    if raw.startswith("FTTC"):
        return "fttc"
    return {"ADSL1": "adsl", "ADSL2": "adsl", "FTTP": "fttp", "Cable": "cable"}.get(raw)


# Column names per year: (headline, down 24h, down peak, up 24h, up max, latency, jitter up,
# jitter down, loss 24h). 2015 has no headline column (see _headline).
_COLUMNS = {
    2013: (
        "Headline.speed",
        "Download.speed..Mbit.s..24.hour",
        "Download.speed..Mbit.s..8.10pm.weekday",
        "Upload.speed..Mbit.s.24.hour",
        "Upload.speed..Mbit.s.Max",
        "Latency..ms.24.hour",
        "Jitter.up..ms.24.hour",
        "Jitter.down..ms.24.hour",
        "Packet.loss....24.hour",
    ),
    2014: (
        "Headline.speed",
        "Download.speed..Mbit.s..24.hrs",
        "Download.speed..Mbit.s..8.10pm.weekday",
        "Upload.speed..Mbit.s.24.hour",
        "Upload.speed..Mbit.s.Max",
        "Latency..ms.24.hour",
        "Jitter.up..ms.24.hour",
        "Jitter.down..ms.24.hour",
        "Packet.loss....24.hour",
    ),
    2015: (
        "",
        "DL24hrmean",
        "DLpeakmean",
        "UL24hrmean",
        "UL24hrmax",
        "Latency24hr",
        "JitterUp24hr",
        "JitterDown24hr",
        "PacketLoss24hr",
    ),
}


def _headline(year: int, row: dict[str, str]) -> float | None:
    if year < 2015:  # "80", "15-fibre", "20 DSL"
        return _leading_number(row["Headline.speed"])
    pack = row["Pack_number"].split()  # "BT 40", "Talk Talk 20"
    if not pack or pack[0] == "FTTC":  # "FTTC Other", "FTTC KCOM", "FTTC 15": no package
        return None
    return _leading_number(pack[-1])


def read_year(path: Path, year: int) -> Iterator[PanelLine]:
    """The usable homes of one year's file: known technology, headline and all metrics."""
    cols = _COLUMNS[year]
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if year == 2015 and row.get("Valid_panel", "").strip() != "Valid panelist":
                continue
            tech = _technology(year, row)
            headline = _headline(year, row)
            values = [_num(row.get(c)) for c in cols[1:]]
            if tech is None or headline is None or headline <= 0 or any(v is None for v in values):
                continue
            down, peak, up, up_max, latency, jit_up, jit_down, loss = (
                float(v or 0.0) for v in values
            )
            if year == 2014:
                loss *= 100.0
            if min(down, peak, up, up_max, latency) <= 0 or min(jit_up, jit_down, loss) < 0:
                continue
            yield PanelLine(
                year,
                tech,
                headline,
                down,
                peak,
                up,
                up_max,
                latency,
                (jit_up + jit_down) / 2.0,
                loss,
            )


def read_panel(folder: Path) -> list[PanelLine]:
    lines: list[PanelLine] = []
    for year in YEARS:
        path = folder / f"ofcom_uk_home_broadband_{year}.csv"
        if not path.is_file():
            raise FileNotFoundError(f"missing Ofcom panel file: {path}")
        lines.extend(read_year(path, year))
    return lines


def metric_rows(lines: list[PanelLine]) -> dict[str, np.ndarray]:
    """Per technology, an (n, len(METRICS)) array of the metrics defined in the docstring."""
    groups: dict[tuple[int, str, float], list[float]] = defaultdict(list)
    for ln in lines:
        groups[(ln.year, ln.technology, ln.headline_mbps)].append(ln.up_max_mbps)
    upload_rate = {
        key: float(np.quantile(np.array(v), 0.95))
        for key, v in groups.items()
        if len(v) >= MIN_GROUP
    }
    rows: dict[str, list[list[float]]] = defaultdict(list)
    for ln in lines:
        rate = upload_rate.get((ln.year, ln.technology, ln.headline_mbps))
        if rate is None:
            continue
        rows[ln.technology].append(
            [
                ln.down_mbps / ln.headline_mbps,
                ln.up_mbps / rate,
                ln.peak_down_mbps / ln.down_mbps,
                ln.latency_ms,
                ln.jitter_ms,
                ln.loss_pct,
            ]
        )
    return {tech: np.array(rows[tech], dtype=float) for tech in FITTED}


def normal_scores(column: np.ndarray) -> np.ndarray:
    """Average ranks (ties shared) mapped through the inverse normal CDF."""
    n = len(column)
    order = np.argsort(column, kind="stable")
    ranks = np.empty(n, dtype=float)
    ranks[order] = np.arange(1, n + 1, dtype=float)
    _, inverse, counts = np.unique(column, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    avg = sums / counts
    inv = NormalDist().inv_cdf
    return np.array([inv((r - 0.5) / n) for r in avg[inverse]])


def _sig(x: float, digits: int = 6) -> float:
    return float(f"{x:.{digits}g}")


def fit_technology(data: np.ndarray) -> dict[str, Any]:
    quantiles = {
        m: [_sig(float(q)) for q in np.quantile(data[:, j], PROBABILITIES)]
        for j, m in enumerate(METRICS)
    }
    scores = np.column_stack([normal_scores(data[:, j]) for j in range(data.shape[1])])
    corr = np.corrcoef(scores, rowvar=False)
    return {
        "source": "ofcom",
        "n": len(data),
        "quantiles": quantiles,
        "correlation": [[round(float(c), 4) for c in row] for row in corr],
    }


def derive_fwa(adsl: dict[str, Any], cable: dict[str, Any]) -> dict[str, Any]:
    q_adsl, q_cable = adsl["quantiles"], cable["quantiles"]
    return {
        "source": "assumption",
        "assumption": FWA_ASSUMPTION,
        "quantiles": {
            "down_frac": q_adsl["down_frac"],
            "up_frac": q_adsl["up_frac"],
            "peak_down_ratio": q_cable["peak_down_ratio"],
            "latency_ms": [_sig(v + 15.0) for v in q_adsl["latency_ms"]],
            "jitter_ms": [_sig(v * 3.0) for v in q_adsl["jitter_ms"]],
            "loss_pct": [_sig(v * 2.0) for v in q_adsl["loss_pct"]],
        },
        "correlation": adsl["correlation"],
    }


def fit(lines: list[PanelLine]) -> dict[str, Any]:
    per_tech = metric_rows(lines)
    technologies = {tech: fit_technology(per_tech[tech]) for tech in FITTED}
    technologies["fwa"] = derive_fwa(technologies["adsl"], technologies["cable"])
    return {
        "about": "Healthy line quality per access technology, fitted by "
        "homeport.simulator.ofcom from the Ofcom UK home broadband panel "
        "(2013-2015, SamKnows units; via alan-turing-institute/datadiff). "
        "Quantiles of each metric plus the correlation of their normal scores.",
        "years": list(YEARS),
        "metrics": list(METRICS),
        "probabilities": list(PROBABILITIES),
        "technologies": technologies,
    }


def write_profiles(folder: Path, out: Path = DATA_PATH) -> dict[str, Any]:
    profiles = fit(read_panel(folder))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(profiles, indent=1) + "\n", encoding="utf-8")
    return profiles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m homeport.simulator.ofcom",
        description="Fit line-quality profiles from the Ofcom broadband panel CSV files.",
    )
    parser.add_argument(
        "folder", type=Path, help="folder holding ofcom_uk_home_broadband_{2013,2014,2015}.csv"
    )
    parser.add_argument("--out", type=Path, default=DATA_PATH, help="JSON file to write")
    args = parser.parse_args(argv)
    try:
        profiles = write_profiles(args.folder, args.out)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{t} {p['n']}" for t, p in profiles["technologies"].items() if "n" in p)
    print(f"wrote {args.out} (homes per technology: {counts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
