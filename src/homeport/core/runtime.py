"""Process-wide settings for the long-running processes (``homeport serve``, ``homeport
ingest``).

Python's cyclic garbage collector runs a young-generation pass every 700 new container objects
and now and then a full pass over every tracked object. The ingest path allocates a few hundred
thousand short-lived objects per 1,000-report batch (validated models, rows, ORM state) in a
process whose imports, models and mappers already hold some 200,000 tracked objects, so the
collector took about a quarter of the ingest process's CPU: about 95 ms of a 1,000-report batch
(PostgreSQL, 1,000 devices, with detection; ``bench/ingest.py``). Nearly all of it is garbage
that reference counting frees anyway; the collector is only needed for reference cycles.
"""

from __future__ import annotations

import gc

#: New container objects between two young-generation passes (Python's default: 700). Cyclic
#: garbage lives a little longer before it is freed; memory stays within the ingest goal.
YOUNG_THRESHOLD = 10_000


def settle_gc() -> None:
    """Call once the process is set up, before it starts serving: what exists now (modules,
    models, mappers, settings) lives as long as the process, so it is moved out of the
    collector's sight (``gc.freeze``), and young-generation passes are made rarer. Measured
    on the ingest path: the collector's share of a 1,000-report batch fell from about 95 ms to
    about 11 ms of CPU; in the web process a full collection stopped a console page for
    150–200 ms about once every 75 pages before, 20–40 ms after. The tests' apps do not call
    it."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
