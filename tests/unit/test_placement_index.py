"""FreeDevices' bucket index places exactly as a plain scan of the nodes would."""

from hypothesis import given, settings
from hypothesis import strategies as st

from nuri.policy.placement import FreeDevices
from nuri.policy.snapshot import ClusterSnapshot, NodeSlice, NodeState, PoolState


def reference_place(
    free: dict[str, list[int]], size: int, devices: int
) -> tuple[NodeSlice, ...] | None:
    """Best fit by a linear scan (fullest node that fits, first listed on ties); larger jobs
    take the emptiest nodes first; a job that fits one node never spans nodes."""
    best = None
    for name, indices in free.items():
        if len(indices) >= devices and (best is None or len(indices) < len(free[best])):
            best = name
    if best is not None:
        chosen = tuple(free[best][:devices])
        free[best] = free[best][devices:]
        return (NodeSlice(best, chosen),)
    if devices <= size or sum(len(v) for v in free.values()) < devices:
        return None
    parts, need = [], devices
    for name in sorted((n for n in free if free[n]), key=lambda n: -len(free[n])):
        if need == 0:
            break
        count = min(need, len(free[name]))
        parts.append(NodeSlice(name, tuple(free[name][:count])))
        free[name] = free[name][count:]
        need -= count
    return tuple(parts)


@settings(max_examples=300, deadline=None)
@given(
    busy=st.lists(st.sets(st.integers(0, 7)), min_size=1, max_size=12),
    requests=st.lists(st.integers(1, 20), max_size=25),
)
def test_index_matches_a_linear_scan(busy: list[set[int]], requests: list[int]) -> None:
    """Random pools and request sequences: same placement, request after request."""
    nodes = tuple(
        NodeState(f"n{i:02d}", 8, tuple(x for x in range(8) if x not in taken))
        for i, taken in enumerate(busy)
    )
    snapshot = ClusterSnapshot(
        now=0.0, pools=(PoolState(1, "p", "H100", 1000, nodes),), running=(), pending=()
    )
    view = FreeDevices(snapshot)
    free = {node.name: list(node.free_indices) for node in nodes}
    for devices in requests:
        expected = reference_place(free, 8, devices)
        assert view.place(1, devices, may_borrow=False) == expected
        assert view.free(1) == sum(len(v) for v in free.values())
