"""policy_named: building a registered policy by name, with constructor options."""

import pytest

from nuri.domain.errors import InvalidInput
from nuri.policy.las import Las
from nuri.policy.registry import PolicyContext, policy_named


def test_options_reach_the_policy_constructor() -> None:
    policy = policy_named("las", PolicyContext(), options={"preempt_gap": 1})
    assert isinstance(policy, Las) and policy.preempt_gap == 1
    assert policy_named("las", options={}).preempt_gap == Las().preempt_gap  # type: ignore[attr-defined]


def test_an_unknown_option_names_the_options_the_policy_takes() -> None:
    with pytest.raises(InvalidInput, match=r"has no option speed; its options: .*preempt_gap"):
        policy_named("las", options={"speed": 2})
    with pytest.raises(InvalidInput, match="fifo has no option x; its options: none"):
        policy_named("fifo", options={"x": 1})


def test_a_refused_value_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="policy las: victim_choice must be one of"):
        policy_named("las", options={"victim_choice": "random"})
