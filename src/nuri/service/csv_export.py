"""Reports as CSV: one header row from the view's fields, then one row per view.

Datetimes are ISO 8601 in UTC, absent values are empty cells, and numbers are written as they
are (integer units and whole won stay exact), so a spreadsheet or pandas reads them back as is.
"""

import csv
import io
from collections.abc import Sequence
from dataclasses import fields, is_dataclass
from datetime import datetime
from typing import Any


def csv_text(view_type: type[Any], rows: Sequence[Any]) -> str:
    if not is_dataclass(view_type):
        raise TypeError(f"{view_type!r} is not a dataclass view")
    names = [field.name for field in fields(view_type)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([_cell(getattr(row, name)) for name in names])
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return value
