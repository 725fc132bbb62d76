"""nuri: a national AI compute commons.

nuri turns pools of GPUs and NPUs at several hubs into fair, fast, accountable access: awards in
H100-equivalent GPU-hours become jobs that a scheduling policy places, and every second a job runs
is charged to an integer ledger.

Layers, from the inside out (see ``docs/architecture.md``)::

    domain, policy          pure: types, rules, scheduling decisions; no I/O, no clock
    engine                  the scheduling cycle: snapshot -> decide -> apply
    store, backends         adapters: SQLAlchemy database; local processes (Slurm later)
    service                 use cases and transactions, authorisation
    api, cli                FastAPI under /api/v1; the ``nuri`` command talking to it over HTTP
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
