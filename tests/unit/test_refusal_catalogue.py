"""Every keyed refusal a researcher meets at submission reads the same in the portal's English as
the API's message, and has a Korean text with every placeholder filled."""

from collections.abc import Callable

import pytest

from nuri.domain.admission import admit, admit_class
from nuri.domain.errors import AdmissionRefused
from nuri.web.i18n import CATALOGUE, Translator, refusal_text
from tests.unit.test_admission import A100, NOW, POOL, allocation, balance

ENOUGH = [(allocation(), balance())]


def _pool(**overrides: object) -> AdmissionRefused:
    arguments: dict = {
        "project_name": "snu-nlp",
        "pool_name": POOL.name,
        "pool": POOL,
        "devices": 1,
        "time_limit_s": 3600,
        "command": ["python", "train.py"],
        "allocations": ENOUGH,
        "now": NOW,
    } | overrides
    with pytest.raises(AdmissionRefused) as refused:
        admit(**arguments)
    return refused.value


def _class(**overrides: object) -> AdmissionRefused:
    arguments: dict = {
        "project_name": "snu-nlp",
        "accelerator": "A100",
        "pools": [A100],
        "devices": 1,
        "time_limit_s": 3600,
        "command": ["python", "train.py"],
        "allocations": ENOUGH,
        "now": NOW,
    } | overrides
    with pytest.raises(AdmissionRefused) as refused:
        admit_class(**arguments)
    return refused.value


REFUSALS: dict[str, Callable[[], AdmissionRefused]] = {
    "admission.unknown_pool": lambda: _pool(pool_name="h200-ksc", pool=None),
    "admission.too_many_devices": lambda: _pool(devices=9),
    "admission.time_limit_too_long": lambda: _pool(time_limit_s=3 * 86400),
    "admission.unknown_accelerator": lambda: _class(accelerator="B200", pools=[]),
    "admission.class_too_many_devices": lambda: _class(devices=5),
    "admission.class_time_limit_too_long": lambda: _class(time_limit_s=2 * 86400),
    "admission.no_command": lambda: _pool(command=[" "]),
    "admission.no_devices": lambda: _pool(devices=0),
    "admission.no_time": lambda: _pool(time_limit_s=0),
    "admission.no_allocation.pool": lambda: _pool(allocations=[]),
    "admission.no_allocation.class": lambda: _class(allocations=[]),
    "admission.award_too_small.pool": lambda: _pool(allocations=[(allocation(), balance(5))]),
    "admission.award_too_small.class": lambda: _class(allocations=[(allocation(), balance(5))]),
}


@pytest.mark.parametrize("key", list(REFUSALS))
def test_a_keyed_refusal_reads_the_same_in_english_and_has_korean(key: str) -> None:
    """The refusal carries its key; the English catalogue text, filled with its parameters, is
    the message the API and CLI show; the Korean text fills every placeholder."""
    refusal = REFUSALS[key]()
    assert refusal.key == key
    assert f"refusal.{key}" in CATALOGUE
    assert refusal_text(Translator("en"), refusal) == refusal.message
    korean = refusal_text(Translator("ko"), refusal)
    assert korean != refusal.message and "{" not in korean
    assert all(str(value) in korean for value in refusal.params.values() if str(value).isascii())


def test_every_admission_refusal_in_the_catalogue_is_reachable() -> None:
    """No catalogue entry for an admission refusal that nothing raises (a renamed key)."""
    catalogued = {
        key.removeprefix("refusal.") for key in CATALOGUE if key.startswith("refusal.adm")
    }
    assert catalogued == set(REFUSALS)


def test_a_refusal_without_a_key_is_shown_as_its_message() -> None:
    """Messages the catalogue does not know stay in English rather than vanish."""
    refusal = AdmissionRefused("something new")
    assert refusal_text(Translator("ko"), refusal) == "something new"
