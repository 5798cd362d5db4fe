"""Line-quality profiles: reading the Ofcom panel's quirks, the committed fit, sampling."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

from homeport.simulator import ofcom
from homeport.simulator.lines import load_profiles, parse_profiles

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "broadband"


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in header})


def _row(year: int, values: tuple[str, ...], **extra: str) -> dict[str, str]:
    cols = ofcom._COLUMNS[year]
    row = dict(zip(cols[1:], values, strict=True))
    row.update(extra)
    return row


# down 24h, down peak, up 24h, up max, latency, jitter up, jitter down, loss
GOOD = ("30", "27", "8", "9.5", "20", "1", "3", "0.1")


@pytest.fixture
def panel(tmp_path: Path) -> Path:
    h13 = ["Technology", "ISP", "Headline.speed", *ofcom._COLUMNS[2013][1:]]
    _write(
        tmp_path / "ofcom_uk_home_broadband_2013.csv",
        h13,
        [
            _row(
                2013,
                (*GOOD[:7], "0.160%"),
                Technology="FTTx",
                ISP="FTTC",
                **{"Headline.speed": "40"},
            ),
            _row(2013, GOOD, Technology="FTTx", ISP="FTTP", **{"Headline.speed": "100"}),
            _row(2013, GOOD, Technology="ADSL2+", ISP="Sky", **{"Headline.speed": "20 DSL"}),
            _row(2013, GOOD, Technology="", ISP="BT", **{"Headline.speed": "2"}),
        ],
    )
    h14 = ["Technology", "Headline.speed", *ofcom._COLUMNS[2014][1:]]
    _write(
        tmp_path / "ofcom_uk_home_broadband_2014.csv",
        h14,
        [
            _row(2014, (*GOOD[:7], "0.002"), Technology="Cable", **{"Headline.speed": "50"}),
            _row(2014, (*GOOD[:4], "NA", *GOOD[5:]), Technology="FTTC", **{"Headline.speed": "80"}),
        ],
    )
    h15 = ["Valid_panel", "Tech", "Pack_number", *ofcom._COLUMNS[2015][1:]]
    _write(
        tmp_path / "ofcom_uk_home_broadband_2015.csv",
        h15,
        [
            _row(2015, GOOD, Valid_panel="Valid panelist", Tech="FTTC 76", Pack_number="BT 80"),
            _row(2015, GOOD, Valid_panel="Valid panelist", Tech="FTTP", Pack_number="FTTC Other"),
            _row(
                2015,
                (*GOOD[:2], "#NULL!", *GOOD[3:]),
                Valid_panel="Valid panelist",
                Tech="ADSL2",
                Pack_number="Talk Talk 20",
            ),
            _row(2015, GOOD, Valid_panel="Web - peak", Tech="Cable", Pack_number="Virgin 100"),
        ],
    )
    return tmp_path


def test_reads_each_years_quirks(panel: Path) -> None:
    lines = ofcom.read_panel(panel)
    got = [(ln.year, ln.technology, ln.headline_mbps, ln.loss_pct) for ln in lines]
    assert got == [
        (2013, "fttc", 40.0, 0.16),  # "0.160%" is a percentage
        (2013, "fttp", 100.0, 0.1),  # FTTx split by the ISP column
        (2013, "adsl", 20.0, 0.1),  # "20 DSL" headline; blank technology row dropped
        (2014, "cable", 50.0, 0.2),  # 2014 loss is a fraction
        (2015, "fttc", 80.0, 0.1),  # headline from the package; no-package FTTP dropped
    ]  # rows with NA / #NULL! metrics and invalid panelists are dropped
    assert lines[0].jitter_ms == 2.0  # mean of up and down


def test_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FileNotFoundError, match="ofcom_uk_home_broadband_2013"):
        ofcom.read_panel(tmp_path)
    assert ofcom.main([str(tmp_path), "--out", str(tmp_path / "x.json")]) == 1
    assert "missing Ofcom panel file" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_normal_scores_share_ties() -> None:
    scores = ofcom.normal_scores(np.array([0.0, 0.0, 1.0, 2.0]))
    inv = NormalDist().inv_cdf  # average ranks 1.5, 1.5, 3, 4 of 4
    assert np.allclose(scores, [inv(0.25), inv(0.25), inv(0.625), inv(0.875)])


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is absent")
def test_committed_profiles_match_a_refit(tmp_path: Path) -> None:
    out = tmp_path / "profiles.json"
    assert ofcom.main([str(SHARED), "--out", str(out)]) == 0
    fresh = json.loads(out.read_text())
    committed = json.loads(ofcom.DATA_PATH.read_text())
    assert fresh.keys() == committed.keys()
    assert fresh["probabilities"] == committed["probabilities"]
    assert fresh["technologies"].keys() == committed["technologies"].keys()
    for tech, spec in fresh["technologies"].items():
        old = committed["technologies"][tech]
        assert spec.get("n") == old.get("n"), tech
        for metric, values in spec["quantiles"].items():
            assert np.allclose(values, old["quantiles"][metric], rtol=1e-5, atol=1e-9), (
                tech,
                metric,
            )
        assert np.allclose(spec["correlation"], old["correlation"], atol=2e-4), tech
    assert fresh["technologies"]["fttc"]["n"] > 1000  # the real panel, not a sample


def test_profiles_cover_every_technology_and_state_the_fwa_assumption() -> None:
    data = json.loads(ofcom.DATA_PATH.read_text())
    techs = data["technologies"]
    assert set(techs) == {"adsl", "fttc", "fttp", "cable", "fwa"}
    assert all(techs[t]["source"] == "ofcom" for t in ofcom.FITTED)
    assert techs["fwa"]["source"] == "assumption" and "No Ofcom" in techs["fwa"]["assumption"]
    median = data["probabilities"].index(0.5)
    latency = {t: techs[t]["quantiles"]["latency_ms"][median] for t in techs}
    assert latency["fttp"] < latency["fttc"] < latency["adsl"] < latency["fwa"]


def test_sampling_follows_the_fitted_distribution() -> None:
    profiles = load_profiles()
    data = json.loads(ofcom.DATA_PATH.read_text())
    median = data["probabilities"].index(0.5)
    drawn = profiles.sample(np.random.default_rng(1), "adsl", 20_000)
    for metric in ofcom.METRICS:
        expected = data["technologies"]["adsl"]["quantiles"][metric][median]
        assert abs(np.median(drawn[metric]) - expected) <= 0.05 * abs(expected) + 0.01, metric
    # Slow DSL lines have more latency, as in the panel.
    assert np.corrcoef(drawn["down_frac"], drawn["latency_ms"])[0, 1] < -0.2
    with pytest.raises(KeyError):
        profiles.sample(np.random.default_rng(1), "dial-up", 1)


def test_rejects_broken_profiles() -> None:
    data = json.loads(ofcom.DATA_PATH.read_text())
    data["technologies"]["fttc"]["quantiles"]["latency_ms"].reverse()
    with pytest.raises(ValueError, match="increasing"):
        parse_profiles(data)
