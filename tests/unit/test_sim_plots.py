"""Simulation plots: the JCT CDF figure, and writing it as HTML or PNG."""

import re
from pathlib import Path
from typing import Any

import pytest

from nuri.domain.errors import InvalidInput
from nuri.sim.plots import jct_cdf_figure, write_figure

CHROMIUM = Path("/usr/bin/chromium")
JCTS = {"fifo": [3600.0, 7200.0, 36000.0, 0.0], "fair-share": [1800.0, 5400.0]}


def test_cdf_has_one_step_line_per_policy_in_hours_on_a_log_axis() -> None:
    """x is hours on a log axis; y is the fraction of all jobs, zero JCTs counted but not drawn."""
    fig = jct_cdf_figure(JCTS, "JCT by policy")
    assert [trace.name for trace in fig.data] == ["fifo", "fair-share"]
    fifo = fig.data[0]
    # Sorted [0, 1 h, 2 h, 10 h]: fractions 1/4 .. 4/4; the 0 s job is left off the log axis.
    assert list(fifo.x) == [1.0, 2.0, 10.0]
    assert list(fifo.y) == [0.5, 0.75, 1.0]
    assert fifo.line.shape == "hv"
    assert fig.layout.xaxis.type == "log"
    assert "hours" in fig.layout.xaxis.title.text
    assert "fraction" in fig.layout.yaxis.title.text
    assert fig.layout.title.text == "JCT by policy"


def test_cdf_refuses_negative_or_non_finite_jcts() -> None:
    """A JCT below zero or NaN is a caller's bug, reported as InvalidInput."""
    with pytest.raises(InvalidInput, match="fifo"):
        jct_cdf_figure({"fifo": [1.0, -2.0]}, "bad")
    with pytest.raises(InvalidInput, match="fifo"):
        jct_cdf_figure({"fifo": [float("nan")]}, "bad")


def test_html_is_self_contained_and_names_the_policies(tmp_path: Path) -> None:
    """The HTML embeds plotly.js (no CDN) and carries each policy's name."""
    path = tmp_path / "figures" / "jct.html"  # the missing directory is created
    write_figure(jct_cdf_figure(JCTS, "JCT by policy"), path)
    html = path.read_text(encoding="utf-8")
    assert "fifo" in html and "fair-share" in html
    assert re.search(r"<script[^>]*\ssrc=", html) is None  # no external script at all
    assert len(html) > 1_000_000  # plotly.js itself is a few megabytes


@pytest.mark.skipif(not CHROMIUM.exists(), reason="PNG export needs Chromium at /usr/bin/chromium")
def test_png_is_written(tmp_path: Path) -> None:
    """A .png path gives a PNG image (the file starts with the PNG signature)."""
    path = tmp_path / "jct.PNG"
    write_figure(jct_cdf_figure(JCTS, "JCT by policy"), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", ["jct.svg", "jct.pdf", "jct"])
def test_other_extensions_are_refused(tmp_path: Path, name: str) -> None:
    """Only .html and .png are written; anything else is InvalidInput and writes nothing."""
    with pytest.raises(InvalidInput, match=r"\.html or \.png"):
        write_figure(jct_cdf_figure(JCTS, "t"), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_png_without_a_browser_explains_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When kaleido cannot find Chrome, the error says to install chromium or use .html."""
    fig = jct_cdf_figure(JCTS, "t")

    def no_browser(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("\nKaleido requires Google Chrome to be installed.\n")

    monkeypatch.setattr(type(fig), "write_image", no_browser)
    with pytest.raises(InvalidInput, match="Kaleido requires Google Chrome") as caught:
        write_figure(fig, tmp_path / "jct.png")
    assert "chromium" in caught.value.message and ".html" in caught.value.message
