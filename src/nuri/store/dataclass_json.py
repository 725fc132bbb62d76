"""Frozen dataclasses to JSON and back, guided by their type hints.

For value types kept in the database as JSON text (forecasts and capacity plans worked out ahead of
time). Supported field types: ``int``, ``float`` (``inf`` and ``nan`` too), ``str``, ``bool``,
``datetime`` (ISO 8601, aware), enums (by value), ``X | None``, ``tuple[X, ...]``, ``Mapping[str, X]`` and nested
dataclasses. Anything else is a programming error, raised as TypeError when encoding, so a new
field type cannot be stored in a form that will not read back.
"""

import dataclasses
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

T = TypeVar("T")


def to_jsonable(value: Any) -> Any:
    """``value`` as nested dicts, lists and scalars that ``json.dumps`` writes."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: to_jsonable(getattr(value, field.name))
            for field in dataclasses.fields(value)
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError("naive datetimes are not stored")
        return value.isoformat()
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, tuple | list):
        return [to_jsonable(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    raise TypeError(f"cannot store a {type(value).__name__} as JSON")


def from_jsonable(kind: type[T], data: Any) -> T:
    """A ``kind`` (a dataclass) read back from what :func:`to_jsonable` wrote."""
    return typing.cast(T, _read(kind, data))


def _read(hint: Any, data: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if data is None and type(None) in options:
            return None
        (present,) = [option for option in options if option is not type(None)]
        return _read(present, data)
    if origin is tuple:
        (item, _ellipsis) = typing.get_args(hint)
        return tuple(_read(item, element) for element in data)
    if origin in (Mapping, dict, typing.Mapping):
        _, item = typing.get_args(hint)
        return {str(key): _read(item, element) for key, element in data.items()}
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        hints = typing.get_type_hints(hint)
        return hint(
            **{
                field.name: _read(hints[field.name], data[field.name])
                for field in dataclasses.fields(hint)
                if field.name in data
            }
        )
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(data)
    if hint is datetime:
        return datetime.fromisoformat(data)
    if hint is float:
        return float(data)
    if hint in (int, str, bool):
        return hint(data)
    raise TypeError(f"cannot read a {hint!r} from JSON")
