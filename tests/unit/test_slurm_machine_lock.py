"""Development clusters on one machine start and stop one at a time (they share munged,
Debian's packages and perhaps a MariaDB started by one of them)."""

import threading
import time
from pathlib import Path

import pytest

from nuri.slurm import devcluster
from nuri.slurm.devcluster import machine_lock


def test_a_second_holder_waits_for_the_first_and_is_told_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(devcluster, "CLUSTERS_DIR", tmp_path / "run")
    events: list[str] = []
    second_has_it = threading.Event()

    def second() -> None:
        with machine_lock(lambda: events.append("waiting")):
            events.append("second holds it")
            second_has_it.set()

    with machine_lock(lambda: events.append("first waited")):
        contender = threading.Thread(target=second)
        contender.start()
        time.sleep(0.3)
        assert not second_has_it.is_set()
        events.append("first lets go")
    contender.join(10)
    assert second_has_it.is_set()
    assert events == ["waiting", "first lets go", "second holds it"]


def test_the_lock_is_free_again_after_an_error_inside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(devcluster, "CLUSTERS_DIR", tmp_path / "run")
    with pytest.raises(RuntimeError), machine_lock():
        raise RuntimeError("a failed start")
    waited: list[str] = []
    with machine_lock(lambda: waited.append("waited")):
        pass
    assert waited == []
