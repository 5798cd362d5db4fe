"""Every `homeport` command and web process starts without scikit-learn and SciPy: together
they take about 2.5 s to import, and only training, knowledge-base search and experiment
statistics need them (they are imported where they are used)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sklearn", "scipy")


def test_the_cli_and_the_web_app_import_no_heavy_library() -> None:
    code = (
        "import sys, homeport.cli.main, homeport.web.app\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert found.stdout.strip() == ""


def test_the_heavy_libraries_load_when_used() -> None:
    """The churn model's training is exercised by tests/retention; these two are the others."""
    from homeport.experiments import stats
    from homeport.selfservice import kb_search

    assert abs(stats._sps().norm.ppf(0.975) - 1.959964) < 1e-6
    words, chars = kb_search._vectorisers()
    assert type(words).__module__.startswith("sklearn.") and type(chars) is type(words)
