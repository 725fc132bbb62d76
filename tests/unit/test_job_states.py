"""The job state machine, and parsing and formatting of time limits."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nuri.domain.errors import InvalidInput, InvalidTransition
from nuri.domain.jobs import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    JobState,
    check_transition,
    format_duration,
    parse_duration,
)

S = JobState
ALLOWED: frozenset[tuple[JobState, JobState]] = frozenset(
    {
        (S.PENDING, S.RUNNING),
        (S.PENDING, S.CANCELLED),
        (S.PENDING, S.FAILED),
        (S.RUNNING, S.COMPLETED),
        (S.RUNNING, S.FAILED),
        (S.RUNNING, S.TIMEOUT),
        (S.RUNNING, S.CANCELLED),
        (S.RUNNING, S.PENDING),
    }
)
ALL_PAIRS: list[tuple[JobState, JobState]] = list(itertools.product(JobState, JobState))


def _pair_id(pair: tuple[JobState, JobState]) -> str:
    return f"{pair[0].value}->{pair[1].value}"


@pytest.mark.parametrize(
    ("current", "target"),
    [pair for pair in ALL_PAIRS if pair in ALLOWED],
    ids=[_pair_id(pair) for pair in ALL_PAIRS if pair in ALLOWED],
)
def test_allowed_transition_returns_target(current: JobState, target: JobState) -> None:
    """Every transition in the diagram is allowed and returns the target state."""
    assert check_transition(current, target) is target


@pytest.mark.parametrize(
    ("current", "target"),
    [pair for pair in ALL_PAIRS if pair not in ALLOWED],
    ids=[_pair_id(pair) for pair in ALL_PAIRS if pair not in ALLOWED],
)
def test_disallowed_transition_raises(current: JobState, target: JobState) -> None:
    """Every transition not in the diagram raises InvalidTransition naming both states."""
    with pytest.raises(InvalidTransition) as caught:
        check_transition(current, target)
    assert current.value in caught.value.message
    assert target.value in caught.value.message


def test_transition_table_covers_every_pair() -> None:
    """The table-driven tests above cover all 36 (current, target) pairs."""
    assert len(ALL_PAIRS) == len(JobState) ** 2 == 36
    assert set(ALL_PAIRS) >= ALLOWED


@pytest.mark.parametrize("current", sorted(TERMINAL_STATES), ids=lambda state: state.value)
def test_terminal_states_never_change(current: JobState) -> None:
    """A terminal state may not move to any state, itself included."""
    assert current.terminal
    for target in JobState:
        with pytest.raises(InvalidTransition):
            check_transition(current, target)


def test_terminal_and_active_states_partition_job_states() -> None:
    """Every state is exactly one of active (PENDING, RUNNING) or terminal."""
    assert frozenset({S.PENDING, S.RUNNING}) == ACTIVE_STATES
    assert frozenset(JobState) == ACTIVE_STATES | TERMINAL_STATES
    assert not ACTIVE_STATES & TERMINAL_STATES
    assert not any(state.terminal for state in ACTIVE_STATES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        ("1d2h3m4s", 93784),
        ("01:02:03", 3723),
        ("05:00", 300),
        ("0:00:01", 1),
        ("45", 45 * 60),
        ("  2H  ", 7200),
        ("90M", 5400),
    ],
)
def test_parse_duration_accepts(text: str, expected: int) -> None:
    """Accepted time limit forms parse to whole seconds; a bare number is minutes."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("0", "longer than zero"),
        ("0s", "longer than zero"),
        ("00:00", "longer than zero"),
        ("abc", "not understood"),
        ("2x", "not understood"),
        ("h", "not understood"),
        ("-5m", "not understood"),
        ("1.5h", "not understood"),
        ("1h30", "ends without a unit"),
        ("1:2:3:4", "HH:MM:SS"),
        ("1:", "HH:MM:SS"),
        ("a:b", "HH:MM:SS"),
    ],
)
def test_parse_duration_refuses(text: str, cause: str) -> None:
    """Malformed or zero time limits raise InvalidInput saying what is wrong."""
    with pytest.raises(InvalidInput, match=cause):
        parse_duration(text)


@pytest.mark.parametrize("text", ["²h", "²:00"], ids=["superscript-units", "superscript-clock"])
def test_parse_duration_refuses_non_ascii_digits_with_invalid_input(text: str) -> None:
    """Digit-like characters int() cannot read are refused with InvalidInput, not a crash."""
    with pytest.raises(InvalidInput):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (-5, "0s"),
        (1, "1s"),
        (90, "1m30s"),
        (3600, "1h"),
        (5400, "1h30m"),
        (86400, "1d"),
        (93784, "1d2h3m4s"),
        (7 * 86400, "7d"),
        (86401, "1d1s"),
    ],
)
def test_format_duration(seconds: int, expected: str) -> None:
    """Durations print as d/h/m/s parts with zero parts omitted."""
    assert format_duration(seconds) == expected


@given(st.integers(min_value=1, max_value=10**8))
def test_format_then_parse_duration_round_trips(seconds: int) -> None:
    """Any positive duration formats to text that parses back to the same seconds."""
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize(
    "text", ["1h1h", "30m1h", "1s1m"], ids=["repeated", "small-first", "seconds-first"]
)
def test_parse_duration_takes_each_unit_once_largest_first(text: str) -> None:
    """Ambiguous limits such as '1h1h' or '30m1h' are refused rather than guessed at."""
    with pytest.raises(InvalidInput, match="each unit once, largest first"):
        parse_duration(text)
