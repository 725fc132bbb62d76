"""Keeping the server's start-up objects out of Python's cyclic garbage collector.

A full (generation-2) collection walks every container object the process holds. In ``nuri
serve`` most of those are made once at start-up and live as long as the process: modules,
FastAPI's routes and Pydantic validators, SQLAlchemy's tables and compiled statements, NumPy and
pandas. There are about 230,000 of them, and walking them took about 115 ms per full collection
on the 2-core machines nuri is tested on. Every request being served and every scheduling
decision then in progress stood still for that long. Frozen, they are skipped by every later
collection (a full one then walks only what was made since: a snapshot, sessions, requests in
flight), and they are still freed by reference counting if they are ever dropped.
"""

import gc


def freeze_start_up_objects() -> int:
    """Collect the start-up garbage, then move every object now alive out of the collector's
    reach; returns how many objects are frozen.

    Call it once, when start-up is over and before serving. Garbage is collected first so that
    no cycle made during start-up (a seeded demo makes many) is kept for the process's life.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
