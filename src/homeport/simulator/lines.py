"""Healthy line quality drawn from the fitted Ofcom profiles (``data/line_profiles.json``).

Sampling is a Gaussian copula: correlated standard normals (the fitted correlation of normal
scores) are mapped through each metric's empirical quantiles. Only the committed JSON is read;
:mod:`homeport.simulator.ofcom` explains how it is fitted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from homeport.simulator.ofcom import DATA_PATH, METRICS


@dataclass(frozen=True)
class TechnologyProfile:
    technology: str
    source: str
    #: One row per metric (order of METRICS), values at ``z_grid``.
    quantiles: np.ndarray
    cholesky: np.ndarray


@dataclass(frozen=True)
class LineProfiles:
    z_grid: np.ndarray
    technologies: dict[str, TechnologyProfile]

    def sample(self, rng: np.random.Generator, technology: str, n: int) -> dict[str, np.ndarray]:
        """``n`` healthy lines of one technology: METRICS → array of ``n`` values."""
        profile = self.technologies.get(technology)
        if profile is None:
            raise KeyError(f"no line profile for technology {technology!r}")
        z = rng.standard_normal((n, len(METRICS))) @ profile.cholesky.T
        return {
            m: np.interp(z[:, j], self.z_grid, profile.quantiles[j]) for j, m in enumerate(METRICS)
        }


def _cholesky(corr: np.ndarray) -> np.ndarray:
    """Cholesky factor of a correlation matrix, repaired if rounding left it not quite PD."""
    try:
        return np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(corr)
        fixed = vectors @ np.diag(np.clip(values, 1e-6, None)) @ vectors.T
        d = np.sqrt(np.diag(fixed))
        return np.linalg.cholesky(fixed / np.outer(d, d))


def parse_profiles(data: dict[str, Any]) -> LineProfiles:
    if list(data["metrics"]) != list(METRICS):
        raise ValueError(f"line profiles list metrics {data['metrics']}, expected {METRICS}")
    inv = NormalDist().inv_cdf
    z_grid = np.array([inv(p) for p in data["probabilities"]])
    techs: dict[str, TechnologyProfile] = {}
    for tech, spec in data["technologies"].items():
        q = np.array([spec["quantiles"][m] for m in METRICS], dtype=float)
        if q.shape != (len(METRICS), len(z_grid)) or np.any(np.diff(q, axis=1) < 0):
            raise ValueError(
                f"line profile {tech!r}: quantiles must be increasing, one per probability"
            )
        techs[tech] = TechnologyProfile(
            tech, spec["source"], q, _cholesky(np.array(spec["correlation"], dtype=float))
        )
    return LineProfiles(z_grid, techs)


@cache
def load_profiles(path: Path = DATA_PATH) -> LineProfiles:
    return parse_profiles(json.loads(path.read_text(encoding="utf-8")))
