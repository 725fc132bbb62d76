"""Figures of simulated runs, and writing them to disk.

``jct_cdf_figure`` builds the figure, a pure function of its input; ``write_figure`` is the only
I/O. HTML needs nothing beyond plotly. PNG goes through kaleido, which drives a Chromium
browser: on Debian, ``apt-get install chromium`` provides ``/usr/bin/chromium``, which kaleido
finds on its own.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import plotly.graph_objects as go  # type: ignore[import-untyped]

from nuri.domain.errors import InvalidInput

PNG_WIDTH_PX = 900
"""Width of written PNG images, in pixels."""

PNG_HEIGHT_PX = 560
"""Height of written PNG images, in pixels."""

SECONDS_PER_HOUR = 3600.0


def jct_cdf_figure(jcts: Mapping[str, Sequence[float]], title: str) -> go.Figure:
    """The empirical CDF of job completion time, one line per policy.

    ``jcts`` maps a policy's name to the JCTs of its finished jobs, in seconds. Each line is a
    step function: at x hours, the fraction of that policy's jobs whose JCT is at most x. The x
    axis is logarithmic, in hours; JCTs of 0 cannot be drawn on it and are left out of the line
    but still counted in the fractions. Lines appear in the mapping's order; a policy with no
    JCTs gets an empty line so it still shows in the legend.

    Raises InvalidInput if a JCT is negative or not finite.
    """
    figure = go.Figure()
    for policy, values in jcts.items():
        seconds = np.sort(np.asarray(values, dtype=np.float64))
        if not bool(np.all(np.isfinite(seconds))) or bool(np.any(seconds < 0)):
            raise InvalidInput(f"JCTs of policy {policy!r} must be finite and non-negative seconds")
        fraction = np.arange(1, seconds.size + 1, dtype=np.float64) / max(seconds.size, 1)
        drawable = seconds > 0
        figure.add_trace(
            go.Scatter(
                x=(seconds[drawable] / SECONDS_PER_HOUR).tolist(),
                y=fraction[drawable].tolist(),
                mode="lines",
                line_shape="hv",
                name=policy,
            )
        )
    figure.update_layout(
        title=title,
        template="plotly_white",
        legend_title_text="policy",
        xaxis={"type": "log", "title": {"text": "job completion time (hours, log scale)"}},
        yaxis={"range": [0, 1.02], "title": {"text": "fraction of jobs completed (CDF)"}},
    )
    return figure


def write_figure(fig: go.Figure, path: Path) -> None:
    """Write ``fig`` to ``path``, the format chosen by its extension (case-insensitive).

    ``.html`` is a self-contained page with plotly.js embedded (works offline, about 5 MB);
    ``.png`` is a PNG image of ``PNG_WIDTH_PX`` x ``PNG_HEIGHT_PX`` pixels. Creates missing parent
    directories and overwrites an existing file.

    Raises InvalidInput for any other extension, and for a PNG that cannot be made because
    kaleido or a Chromium browser is missing (the message says how to fix it).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".html", ".png"):
        raise InvalidInput(
            f"cannot write a figure to {str(path)!r}: the file name must end in .html or .png"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".html":
        fig.write_html(path, include_plotlyjs=True)
        return
    try:
        fig.write_image(path, format="png", width=PNG_WIDTH_PX, height=PNG_HEIGHT_PX)
    except RuntimeError as error:  # plotly's "Kaleido/Chrome required", choreographer failures
        first_line = next((line for line in str(error).splitlines() if line.strip()), "")
        raise InvalidInput(
            f"cannot write PNG {str(path)!r}: image export through kaleido failed "
            f"({type(error).__name__}: {first_line.strip()}). Install Debian's chromium "
            "(apt-get install chromium, giving /usr/bin/chromium) and kaleido>=1, "
            "or write the figure as .html instead"
        ) from error
