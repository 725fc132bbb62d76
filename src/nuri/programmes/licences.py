"""Licences of catalogue entries, by SPDX identifier (https://spdx.org/licenses/).

Only identifiers listed here are accepted, plus ``LicenseRef-<name>`` for a team's own terms
(SPDX's form for licences outside its list). Whether a licence is *open* decides whether an
entry may sit in the open tier, released to everyone.
"""

from dataclasses import dataclass

from nuri.domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Licence:
    spdx: str
    open: bool
    share_alike: bool = False
    non_commercial: bool = False


KNOWN = {
    licence.spdx: licence
    for licence in (
        Licence("CC0-1.0", open=True),
        Licence("CC-BY-4.0", open=True),
        Licence("CC-BY-SA-4.0", open=True, share_alike=True),
        Licence("CC-BY-NC-4.0", open=True, non_commercial=True),
        Licence("CC-BY-NC-SA-4.0", open=True, share_alike=True, non_commercial=True),
        Licence("CC-BY-ND-4.0", open=True),
        Licence("Apache-2.0", open=True),
        Licence("MIT", open=True),
        Licence("BSD-3-Clause", open=True),
        Licence("MPL-2.0", open=True, share_alike=True),
        Licence("GPL-3.0-only", open=True, share_alike=True),
        Licence("LGPL-3.0-only", open=True, share_alike=True),
        Licence("OpenRAIL-M", open=True),
        Licence("ODbL-1.0", open=True, share_alike=True),
    )
}


def licence_named(spdx: str) -> Licence:
    """The licence for an SPDX id (case-sensitive, as SPDX writes it), or say which exist."""
    found = KNOWN.get(spdx)
    if found is not None:
        return found
    if spdx.startswith("LicenseRef-") and len(spdx) > len("LicenseRef-") and len(spdx) <= 100:
        return Licence(spdx, open=False)
    for known in KNOWN:
        if known.lower() == spdx.lower():
            raise InvalidInput(f"licence {spdx!r} is written {known!r} in SPDX")
    raise InvalidInput(
        f"unknown licence {spdx!r}; use an SPDX id ({', '.join(sorted(KNOWN))}) or"
        " LicenseRef-<name> for your own terms"
    )
