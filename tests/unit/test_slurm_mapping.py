"""The pure side of the Slurm adapter: configuration text, parsed tool output, awards as QOS."""

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from nuri.domain.commons import Tier
from nuri.slurm.accounts import AwardFacts, desired_accounts
from nuri.slurm.commands import parse_exit_code, parse_sacct, parse_time, parse_tres
from nuri.slurm.config import (
    SiteFacts,
    SlurmPool,
    gres_of,
    render_gres_conf,
    render_slurm_conf,
)

SITE = SiteFacts(
    cluster_name="t",
    hostname="host",
    state_dir=Path("/s"),
    controller_port=6817,
    dbd_port=6819,
    first_node_port=6830,
    db_host="127.0.0.1",
    db_port=3306,
    db_name="slurm_acct_t",
    db_user="u",
    db_password="p",
    node_spool_dir=Path("/run/spool"),
)
POOLS = [SlurmPool("h100-ksc", "H100", 2, 8, 1000), SlurmPool("rngd-gj", "RNGD", 1, 4, 300)]


def test_nvidia_devices_are_gpus_and_npus_are_their_own_gres() -> None:
    assert gres_of("H100").request(2) == "gpu:h100:2"
    assert gres_of("RNGD").request(1) == "npu:rngd:1"
    assert gres_of("ATOM").tres == "gres/npu:atom"


def test_pools_become_partitions_of_nuri_named_nodes_billed_in_h100_equivalents() -> None:
    conf = render_slurm_conf(POOLS, SITE)
    assert "GresTypes=gpu,npu" in conf
    assert "AccountingStorageTRES=gres/gpu,gres/gpu:h100,gres/npu,gres/npu:rngd" in conf
    assert (
        "PartitionName=h100-ksc Nodes=h100-ksc-n00,h100-ksc-n01 Default=YES DefaultTime=60"
        ' MaxTime=INFINITE State=UP TRESBillingWeights="CPU=0,GRES/gpu=1000"'
    ) in conf
    assert 'TRESBillingWeights="CPU=0,GRES/npu=300"' in conf
    nodes = [line for line in conf.splitlines() if line.startswith("NodeName=")]
    assert [line.split()[0] for line in nodes] == [
        "NodeName=h100-ksc-n00",
        "NodeName=h100-ksc-n01",
        "NodeName=rngd-gj-n00",
    ]
    assert [line.split()[3] for line in nodes] == ["Port=6830", "Port=6831", "Port=6832"]
    assert "Gres=npu:rngd:4" in nodes[2]


def test_each_node_declares_its_own_fake_devices() -> None:
    lines = render_gres_conf(POOLS, SITE).splitlines()
    h100 = [line for line in lines if line.startswith("NodeName=h100-ksc-n01 ")]
    assert len(h100) == 8
    assert h100[0] == "NodeName=h100-ksc-n01 Name=gpu Type=h100 File=/s/devices/dev8"
    files = [line.split("File=")[1] for line in lines if "File=" in line]
    assert len(files) == len(set(files)) == 20


def test_sacct_lines_parse_to_records_in_utc() -> None:
    sep = "\x1f"
    line = sep.join(
        [
            "41",
            "nuriab12cd34-7-2",
            "snu-nlp",
            "h100-ksc",
            "CANCELLED by 0",
            "0:15",
            "2026-11-22T02:38:16",
            "2026-11-22T02:38:20",
            "2026-11-22T02:39:30",
            "70",
            "h100-ksc-n01",
            "billing=2000,cpu=1,gres/gpu:h100=2,gres/gpu=2,node=1",
            "nuri-preempted",
        ]
    )
    [record] = parse_sacct(line + "\n" + "41.batch" + sep * 12 + "\n")
    assert record.slurm_id == 41 and record.state == "CANCELLED"
    assert record.exit_code == -15  # killed by SIGTERM
    assert record.start == datetime(2026, 11, 22, 2, 38, 20, tzinfo=UTC)
    assert record.devices("gpu") == 2 and record.elapsed_s == 70
    assert record.comment == "nuri-preempted"


def test_unknown_times_and_odd_tres_items_are_tolerated() -> None:
    assert parse_time("Unknown") is None and parse_time("None") is None
    assert parse_tres("billing=1,gres/gpu=,mem=4G") == {"billing": 1}
    assert parse_exit_code("2:0") == 2 and parse_exit_code("") is None


def award(project: str, units: int, charged: int = 0, *, tier: Tier = Tier.GENERAL,
          live: bool = True) -> AwardFacts:  # fmt: skip
    return AwardFacts(project, units, charged, tier, live)


def test_an_award_becomes_a_budget_in_billing_minutes_with_the_tier_as_priority() -> None:
    [account] = desired_accounts(
        [award("nlp", 36_000_000, 1_000, tier=Tier.STRATEGIC), award("nlp", 3_600_000)]
    )
    assert account.qos == "nuri-nlp"
    assert account.billing_minutes == (36_000_000 + 3_600_000) // 60
    assert account.fairshare == 11  # awarded H100e GPU-hours
    assert account.priority == 100  # the best tier in force


def test_usage_of_ended_awards_is_added_to_the_limit_but_their_unused_hours_are_not() -> None:
    [account] = desired_accounts(
        [award("nlp", 6_000_000, 600_000, live=False), award("nlp", 1_200_000, 120)]
    )
    assert account.billing_minutes == (1_200_000 + 600_000) // 60
    assert desired_accounts([award("old", 100, 50, live=False)]) == []


@given(
    st.lists(
        st.tuples(st.integers(0, 10**12), st.integers(0, 10**12), st.booleans()),
        min_size=1,
        max_size=5,
    )
)
def test_slurms_remaining_budget_is_nuris_remaining(
    awards: list[tuple[int, int, bool]],
) -> None:
    """Slurm's QOS counts every charge since it was created; what it leaves equals the live
    awards minus their charges (to the billing-minute)."""
    facts = [award("p", units, charged, live=live) for units, charged, live in awards]
    accounts = desired_accounts(facts)
    if not any(live for _, _, live in awards):
        assert accounts == []
        return
    [account] = accounts
    all_charges = sum(charged for _, charged, _ in awards)
    live_remaining = sum(units - charged for units, charged, live in awards if live)
    slurm_remaining_units = account.billing_minutes * 60 - all_charges
    assert abs(slurm_remaining_units - live_remaining) < 60
