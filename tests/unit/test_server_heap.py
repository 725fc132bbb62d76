"""The server's start-up objects are frozen out of the cyclic collector, and nothing else is."""

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nuri.cli.main import app
from nuri.engine.heap import freeze_start_up_objects


class Node:
    """A container that can sit in a reference cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> Node:
    first, second = Node(), Node()
    first.other, second.other = second, first
    return first


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Give the test process's objects back to the collector afterwards."""
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen")
def test_live_objects_are_frozen_start_up_garbage_is_not_kept_and_later_cycles_are_collected() -> (
    None
):
    kept = cycle()
    garbage = weakref.ref(cycle())  # unreachable already: only the collector can free it
    assert garbage() is not None

    frozen = freeze_start_up_objects()

    assert garbage() is None  # collected before freezing, not kept for the process's life
    assert frozen == gc.get_freeze_count() > 0
    tracked = {id(thing) for thing in gc.get_objects()}
    assert id(kept) not in tracked and id(kept.other) not in tracked
    later = weakref.ref(cycle())
    gc.collect()
    assert later() is None


@pytest.mark.usefixtures("unfrozen", "root_logging")
def test_nuri_serve_freezes_its_start_up_objects_before_it_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The freeze happens after the app is built, so its routes and schemas are frozen too."""
    import uvicorn

    seen: dict[str, int] = {}

    def run(served: object, **options: object) -> None:
        seen["frozen"] = gc.get_freeze_count()
        seen["app_tracked"] = int(any(thing is served for thing in gc.get_objects()))

    monkeypatch.setattr(uvicorn, "run", run)
    result = CliRunner().invoke(app, ["serve"], env={"NURI_HOME": str(tmp_path)})

    assert result.exit_code == 0, result.output + repr(result.exception)
    assert seen["frozen"] > 0
    assert seen["app_tracked"] == 0
