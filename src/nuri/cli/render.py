"""Printing results: Rich tables for people, stable JSON for scripts."""

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

# Piped output (files, scripts) is not wrapped at 80 columns as a terminal would be.
console = Console(width=None if sys.stdout.isatty() else 200)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    if not rows:
        console.print(f"[dim]no {title.lower()}[/dim]")
        return
    table = Table(title=title, title_justify="left", header_style="bold")
    for position, column in enumerate(columns):
        table.add_column(column, overflow="fold", no_wrap=position == 0)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    console.print(table)


def when(timestamp: str | None) -> str:
    """An API timestamp as ``YYYY-MM-DD HH:MM:SS`` (UTC), or an empty cell."""
    if not timestamp:
        return ""
    return timestamp.replace("T", " ")[:19]


def hours(value: float) -> str:
    """GPU-hours for people: two decimals, or four when below one hour so small jobs show."""
    return f"{value:,.2f}" if abs(value) >= 1 or value == 0 else f"{value:,.4f}"


def won(value: int) -> str:
    return f"₩{value:,}"
