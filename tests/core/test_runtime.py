"""settle_gc: what exists at start-up leaves the collector's sight, young passes are rarer."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from homeport.core.runtime import YOUNG_THRESHOLD, settle_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_settle_gc_freezes_what_exists_and_raises_the_young_threshold() -> None:
    gc.unfreeze()
    before = gc.get_threshold()
    kept = [[i] for i in range(1_000)]  # tracked containers that exist "at start-up"
    settle_gc()
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
    watched = {id(o) for o in gc.get_objects()}  # the permanent generation is not listed
    assert gc.is_tracked(kept[0])
    assert id(kept[0]) not in watched
