"""One statement for several requests of the same kind: copies of a statement, numbered.

Requests that arrive together (sign-ins, job submissions: :mod:`nuri.api.batches`) each ask the
database the same question with their own parameters. Asked one by one, that is a round trip
each; asked as one ``UNION ALL`` of numbered copies, it is one. Copy ``i`` has each of its bind
parameters renamed ``<name>_i`` and carries ``i`` as a column, so every row says whose it is; a
copy that finds no row leaves no row. The statement's rules stay written once, in the statement.
"""

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import BindParameter, Select, bindparam, literal_column, union_all
from sqlalchemy.sql import Executable, visitors


def numbered_union(statement: Select[Any], count: int) -> Executable:
    """``count`` numbered copies of ``statement`` in one statement (the copy alone for one)."""
    copies = [
        _numbered(statement.add_columns(literal_column(str(i)).label("i")), i) for i in range(count)
    ]
    return copies[0] if count == 1 else union_all(*copies)


def numbered_parameters(each: Sequence[Mapping[str, object]]) -> dict[str, object]:
    """The parameters of :func:`numbered_union`'s copies: ``each[i]``'s, renamed as copy ``i``'s."""
    return {f"{name}_{i}": value for i, values in enumerate(each) for name, value in values.items()}


def _numbered(statement: Select[Any], number: int) -> Select[Any]:
    def renamed(element: Any, **_: Any) -> Any:
        if isinstance(element, BindParameter):
            return bindparam(f"{element.key}_{number}", type_=element.type)
        return None

    options: dict[str, Any] = {}
    return cast(Select[Any], visitors.replacement_traverse(statement, options, renamed))
