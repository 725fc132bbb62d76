"""Lint, format and type checks run as part of the suite, so a red check fails `make test`."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "src", "tests"],
        ["ruff", "format", "--check", "src", "tests"],
        ["mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
def test_static_checks_pass(command: list[str]) -> None:
    """The tree is lint-clean, formatted, and type-checks under mypy --strict."""
    result = subprocess.run(
        [str(BIN / command[0]), *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_package_surface_is_pinned() -> None:
    """The top-level package exports exactly its version; new public names are a deliberate change."""
    import nuri

    assert nuri.__all__ == ["__version__"]
