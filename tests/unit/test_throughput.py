"""The throughput table (relative speeds per job class and accelerator) and the simulator's
table-driven speed model."""

import dataclasses
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nuri.domain.cluster_spec import ClusterSpec, PoolSpec
from nuri.domain.errors import InvalidInput
from nuri.policy.throughput import GAVEL_ACCELERATORS, ThroughputEntry, ThroughputTable
from nuri.sim.hetero_speed import table_speed
from nuri.sim.simulator import SimJob

GAVEL_RAW = {
    # steps per second running alone, as load_gavel_throughputs returns them
    "ResNet-50 (batch size 64)": {"k80": 0.62, "p100": 2.62, "v100": 4.40},
    "Recommendation (batch size 512)": {"k80": 32.0, "p100": 48.0, "v100": 24.0},
    "A3C": {"k80": 3.0, "p100": 6.0},  # never measured on the V100 reference
}


def test_from_mapping_looks_up_speeds() -> None:
    """Speeds are found by exact job class and case-insensitive accelerator; misses are None."""
    table = ThroughputTable.from_mapping({"bert": {"h100": 1.0, "ATOM": 0.5}})
    assert table.speed("bert", "H100") == 1.0
    assert table.speed("bert", "atom") == 0.5
    assert table.speed("bert", "RNGD") is None
    assert table.speed("BERT", "H100") is None
    assert table.speed("gpt", "H100") is None
    assert table.job_classes == ("bert",)
    assert table.accelerators == ("ATOM", "H100")
    assert len(table) == 2
    assert table.as_mapping() == {"bert": {"ATOM": 0.5, "H100": 1.0}}


def test_table_is_immutable_hashable_and_compares_by_entries() -> None:
    """A table cannot be changed after it is built, and equal entries make equal tables."""
    table = ThroughputTable.from_mapping({"bert": {"H100": 1.0}})
    with pytest.raises(dataclasses.FrozenInstanceError):
        table.entries = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        table.as_mapping()["bert"] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        table.as_mapping()["bert"]["H100"] = 2.0  # type: ignore[index]
    same = ThroughputTable((ThroughputEntry("bert", "h100", 1.0),))
    assert same == table
    assert hash(same) == hash(table)
    assert ThroughputTable() == ThroughputTable.from_mapping({})


def test_ratio_is_independent_of_the_unit() -> None:
    """``ratio`` divides two measured speeds of one class and is None if either is missing."""
    table = ThroughputTable.from_mapping({"rec": {"V100": 0.3, "P100": 0.6}})
    assert table.ratio("rec", "P100", "V100") == pytest.approx(2.0)
    assert table.ratio("rec", "K80", "V100") is None
    assert table.ratio("other", "P100", "V100") is None


def test_from_gavel_scales_each_class_to_the_reference() -> None:
    """from_gavel divides each class's steps/s by its V100 value; classes without one are dropped."""
    table = ThroughputTable.from_gavel(GAVEL_RAW, {"k80": "K80", "p100": "P100", "v100": "V100"})
    assert table.job_classes == ("Recommendation (batch size 512)", "ResNet-50 (batch size 64)")
    assert table.speed("ResNet-50 (batch size 64)", "V100") == 1.0
    assert table.speed("ResNet-50 (batch size 64)", "P100") == pytest.approx(2.62 / 4.40)
    assert table.speed("ResNet-50 (batch size 64)", "K80") == pytest.approx(0.62 / 4.40)
    assert table.speed("Recommendation (batch size 512)", "P100") == pytest.approx(2.0)
    assert table.speed("Recommendation (batch size 512)", "K80") == pytest.approx(4 / 3)


def test_from_gavel_reference_speed_puts_speeds_in_h100e() -> None:
    """With reference_speed the V100's exchange rate, every class's V100 speed is that rate."""
    table = ThroughputTable.from_gavel(GAVEL_RAW, GAVEL_ACCELERATORS, reference_speed=0.3)
    assert table.speed("ResNet-50 (batch size 64)", "V100") == pytest.approx(0.3)
    assert table.speed("Recommendation (batch size 512)", "P100") == pytest.approx(0.6)


def test_from_gavel_ignores_unmapped_gpu_types_and_other_references() -> None:
    """GPU types missing from the mapping are ignored; any mapped accelerator may be the reference."""
    table = ThroughputTable.from_gavel(GAVEL_RAW, {"k80": "K80", "p100": "P100"}, reference="P100")
    assert table.accelerators == ("K80", "P100")
    assert table.speed("A3C", "K80") == pytest.approx(0.5)
    assert table.speed("ResNet-50 (batch size 64)", "V100") is None


@pytest.mark.parametrize(
    ("mapping", "kwargs", "cause"),
    [
        ({"k80": "K80"}, {}, "reference accelerator V100"),
        ({"v100": "V100"}, {"reference_speed": 0.0}, "finite and positive"),
        ({"v100": "V99"}, {}, "unknown accelerator"),
    ],
    ids=["reference-not-mapped", "zero-reference-speed", "unknown-accelerator"],
)
def test_from_gavel_refuses(mapping: dict[str, str], kwargs: dict[str, float], cause: str) -> None:
    """from_gavel names what is wrong with its mapping or reference."""
    with pytest.raises(InvalidInput, match=cause):
        ThroughputTable.from_gavel(GAVEL_RAW, mapping, **kwargs)  # type: ignore[arg-type]


def test_csv_round_trip(tmp_path: Path) -> None:
    """save_csv then load_csv gives an equal table, awkward class names and exact floats kept."""
    table = ThroughputTable.from_mapping(
        {
            'LM, "big" (batch size 5)': {"V100": 0.1 + 0.2, "K80": 1e-7},
            "ResNet-50 (batch size 64)": {"P100": 0.596},
        }
    )
    path = tmp_path / "speeds.csv"
    table.save_csv(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "job_class,accelerator,speed"
    assert lines[1] == '"LM, ""big"" (batch size 5)",K80,1e-07'
    assert ThroughputTable.load_csv(path) == table


def test_load_csv_skips_blank_lines(tmp_path: Path) -> None:
    """Blank lines in a throughput CSV are ignored; accelerators are canonicalised."""
    path = tmp_path / "speeds.csv"
    path.write_text("job_class,accelerator,speed\n\nbert,atom,0.5\n\n", encoding="utf-8")
    assert ThroughputTable.load_csv(path).as_mapping() == {"bert": {"ATOM": 0.5}}


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("class,accelerator,speed\n", "must start with the header"),
        ("", "must start with the header"),
        ("job_class,accelerator,speed\nbert,H100\n", r"speeds.csv:2: expected 3 fields"),
        ("job_class,accelerator,speed\nbert,H100,fast\n", r"speeds.csv:2: speed must be a number"),
        ("job_class,accelerator,speed\nbert,H100,-1\n", "finite and positive"),
        ("job_class,accelerator,speed\nbert,H100,nan\n", "finite and positive"),
        ("job_class,accelerator,speed\nbert,TPU,1\n", "unknown accelerator"),
        ("job_class,accelerator,speed\n ,H100,1\n", "non-empty"),
        ('job_class,accelerator,speed\n"two\nlines",H100,1\n', "one line"),
        ("job_class,accelerator,speed\nbert,H100,1\nbert,h100,2\n", "more than once"),
    ],
    ids=[
        "bad-header",
        "empty-file",
        "short-row",
        "bad-speed",
        "negative-speed",
        "nan-speed",
        "unknown-accelerator",
        "blank-class",
        "multi-line-class",
        "duplicate",
    ],
)
def test_load_csv_refuses(tmp_path: Path, text: str, cause: str) -> None:
    """A malformed throughput CSV raises InvalidInput naming the file (and line) at fault."""
    path = tmp_path / "speeds.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput, match=cause) as caught:
        ThroughputTable.load_csv(path)
    assert "speeds.csv" in caught.value.message


def test_load_csv_missing_file(tmp_path: Path) -> None:
    """A missing file is an InvalidInput, not an OSError."""
    with pytest.raises(InvalidInput, match="no throughput table"):
        ThroughputTable.load_csv(tmp_path / "absent.csv")


@settings(max_examples=50, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=12).filter(
            lambda s: s.strip() != "" and "\n" not in s and "\r" not in s
        ),
        st.dictionaries(
            st.sampled_from(["H100", "A100", "V100", "ATOM", "RNGD"]),
            st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False),
            min_size=1,
        ),
        max_size=5,
    )
)
def test_csv_round_trip_property(speeds: dict[str, dict[str, float]]) -> None:
    """Any valid table survives a CSV round trip unchanged."""
    import tempfile

    table = ThroughputTable.from_mapping(speeds)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.csv"
        table.save_csv(path)
        assert ThroughputTable.load_csv(path) == table


# --- the simulator's speed model -------------------------------------------------------------


def _cluster(*pools: tuple[str, int]) -> ClusterSpec:
    return ClusterSpec(
        pools=tuple(
            PoolSpec(
                pool_id=index + 1,
                hub="lab",
                name=accelerator.lower(),
                accelerator=accelerator,
                nodes=1,
                devices_per_node=8,
                rate_milli=rate,
                krw_per_device_hour=0,
            )
            for index, (accelerator, rate) in enumerate(pools)
        )
    )


def _job(job_class: str) -> SimJob:
    return SimJob(
        job_id=1,
        trace_id="t1",
        group="g",
        project_id=1,
        submit_s=0.0,
        work_s=100.0,
        devices=1,
        time_limit_s=3600,
        job_class=job_class,
    )


def test_table_speed_uses_measured_ratios_to_the_reference() -> None:
    """Where the table has the class on both the pool and the reference, speed is their ratio."""
    cluster = _cluster(("V100", 300), ("P100", 245), ("K80", 72))
    table = ThroughputTable.from_gavel(GAVEL_RAW, GAVEL_ACCELERATORS)
    speed = table_speed(cluster, table, "v100")
    v100, p100, k80 = cluster.pools
    rec = _job("Recommendation (batch size 512)")
    assert speed(rec, v100) == pytest.approx(1.0)
    assert speed(rec, p100) == pytest.approx(2.0)
    assert speed(rec, k80) == pytest.approx(4 / 3)
    assert speed(_job("ResNet-50 (batch size 64)"), k80) == pytest.approx(0.62 / 4.40)


def test_table_speed_falls_back_to_exchange_rates_against_the_reference() -> None:
    """An unmeasured class runs at the pool's rate over the reference accelerator's rate."""
    cluster = _cluster(("V100", 300), ("P100", 240))
    speed = table_speed(cluster, ThroughputTable(), "V100")
    assert speed(_job("unknown"), cluster.pools[1]) == pytest.approx(0.8)
    assert speed(_job(""), cluster.pools[0]) == pytest.approx(1.0)


def test_table_speed_without_a_reference_pool_uses_the_simulator_default() -> None:
    """If no pool has the reference accelerator, unmeasured jobs use exchange_rate_speed (H100e)."""
    cluster = _cluster(("H100", 1000), ("ATOM", 200))
    table = ThroughputTable.from_mapping({"bert": {"ATOM": 0.5, "V100": 0.25}})
    speed = table_speed(cluster, table, "V100")
    assert speed(_job("bert"), cluster.pools[1]) == pytest.approx(2.0)
    assert speed(_job("gpt"), cluster.pools[1]) == pytest.approx(0.2)
    assert speed(_job("bert"), cluster.pools[0]) == pytest.approx(1.0)
    assert math.isfinite(speed(_job("gpt"), cluster.pools[0]))
