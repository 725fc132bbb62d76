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


def reference_borrowing_place(
    nodes: dict[str, tuple[list[int], bool]], size: int, devices: int, may_borrow: bool
) -> tuple[NodeSlice, ...] | None:
    """FreeDevices.place by plain scans, with reserved nodes: unreserved nodes first, reserved
    ones too only if the job may borrow and needs them; ``nodes`` in listing order."""
    for include_reserved in (False, True) if may_borrow else (False,):
        usable = {
            name: free
            for name, (free, reserved) in nodes.items()
            if free and (include_reserved or not reserved)
        }
        if sum(len(free) for free in usable.values()) < devices:
            continue
        fitting = [name for name, free in usable.items() if len(free) >= devices]
        if fitting:
            best = min(fitting, key=lambda name: len(usable[name]))  # first listed on ties
            chosen = tuple(usable[best][:devices])
            nodes[best] = (usable[best][devices:], nodes[best][1])
            return (NodeSlice(best, chosen),)
        if devices <= size:
            continue
        parts, need = [], devices
        order = list(nodes)
        for name in sorted(usable, key=lambda n: (-len(usable[n]), order.index(n))):
            if need == 0:
                break
            count = min(need, len(usable[name]))
            parts.append(NodeSlice(name, tuple(usable[name][:count])))
            nodes[name] = (usable[name][count:], nodes[name][1])
            need -= count
        return tuple(parts)
    return None


@settings(max_examples=300, deadline=None)
@given(
    layout=st.lists(st.tuples(st.sets(st.integers(0, 7)), st.booleans()), min_size=1, max_size=12),
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("place"), st.integers(1, 40), st.booleans()),
            st.tuples(st.just("give_back"), st.integers(0, 11), st.sets(st.integers(0, 7))),
        ),
        max_size=30,
    ),
)
def test_index_with_reserved_nodes_and_give_backs_matches_a_scan(
    layout: list[tuple[set[int], bool]],
    steps: list[tuple[str, int, bool] | tuple[str, int, set[int]]],
) -> None:
    """Reserved nodes, borrowing and devices given back (as a preempting policy does, also to
    nodes that were full when the view was built): every placement, multi-node gangs
    included, every free count and the most free devices on one node equal those of plain
    scans, step after step."""
    nodes = tuple(
        NodeState(
            f"n{i:02d}",
            8,
            tuple(x for x in range(8) if x not in taken),
            reserved_for=1 if reserved else None,
        )
        for i, (taken, reserved) in enumerate(layout)
    )
    snapshot = ClusterSnapshot(
        now=0.0, pools=(PoolState(1, "p", "H100", 1000, nodes),), running=(), pending=()
    )
    view = FreeDevices(snapshot)
    model = {node.name: (list(node.free_indices), node.reserved_for is not None) for node in nodes}
    for step in steps:
        if step[0] == "place":
            _, devices, may_borrow = step
            assert isinstance(may_borrow, bool)
            expected = reference_borrowing_place(model, 8, devices, may_borrow)
            assert view.place(1, devices, may_borrow=may_borrow) == expected
        else:
            _, index, wanted = step
            assert isinstance(wanted, set)
            name = nodes[index % len(nodes)].name
            free, reserved = model[name]
            back = tuple(sorted(wanted - set(free)))
            if not back:
                continue
            view.give_back(1, (NodeSlice(name, back),))
            model[name] = (sorted(set(free) | set(back)), reserved)
        assert view.free(1) == sum(len(free) for free, _ in model.values())
        assert view.free(1, borrowing=False) == sum(
            len(free) for free, reserved in model.values() if not reserved
        )
        assert view.most_on_one_node(1) == max(len(free) for free, _ in model.values())
        assert view.most_on_one_node(1, borrowing=False) == max(
            (len(free) for free, reserved in model.values() if not reserved), default=0
        )
