"""The cluster spec: hubs and their pools (and optional reservations) as one YAML document.

The simulator and the service read the same format::

    hubs:
      - name: seoul
        pools:
          - {name: h100, accelerator: H100, nodes: 16, devices_per_node: 8,
             h100_equivalent: 1.0, krw_per_device_hour: 4000}
          - {name: atom, accelerator: ATOM, nodes: 8, devices_per_node: 4,
             h100_equivalent: 0.1, krw_per_device_hour: 300}
    reservations:            # optional: devices held for long-running services
      - {name: public-llm, pool: atom, nodes: 2, demand_csv: public-llm.csv}

``demand_csv`` (``time_s,devices``, a step function; relative paths are relative to the spec)
says how many of the reserved devices the service needs over time; without it the service
needs all of them all the time.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nuri.domain.commons import accelerator_named, check_name, check_pool_shape
from nuri.domain.errors import InvalidInput
from nuri.domain.units import parse_exchange_rate


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """One pool of a cluster spec. ``pool_id`` is its position (1-based) in the spec."""

    pool_id: int
    hub: str
    name: str
    accelerator: str
    nodes: int
    devices_per_node: int
    rate_milli: int
    krw_per_device_hour: int

    @property
    def devices(self) -> int:
        return self.nodes * self.devices_per_node

    @property
    def h100_equivalent(self) -> float:
        return self.rate_milli / 1000

    def node_names(self) -> list[str]:
        return [f"{self.name}-n{index:02d}" for index in range(self.nodes)]


@dataclass(frozen=True, slots=True)
class ReservationSpec:
    """Whole nodes of a pool held for a service; ``demand`` is ``(time_s, devices)`` steps."""

    reservation_id: int
    name: str
    pool: str
    nodes: int
    demand: tuple[tuple[float, int], ...]


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    pools: tuple[PoolSpec, ...]
    reservations: tuple[ReservationSpec, ...] = ()

    @property
    def devices(self) -> int:
        return sum(pool.devices for pool in self.pools)

    def pool_named(self, name: str) -> PoolSpec:
        for pool in self.pools:
            if pool.name == name:
                return pool
        raise InvalidInput(f"the cluster has no pool named {name!r}")


def load_cluster_spec(path: Path) -> ClusterSpec:
    """Read and check a cluster spec YAML file."""
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise InvalidInput(f"no cluster spec at {path}") from None
    except yaml.YAMLError as error:
        raise InvalidInput(f"{path} is not valid YAML: {error}") from None
    return parse_cluster_spec(data, base=path.parent)


def parse_cluster_spec(data: Any, base: Path | None = None) -> ClusterSpec:
    """Check a parsed cluster spec and build it; errors name the hub or pool at fault."""
    if not isinstance(data, Mapping) or not isinstance(data.get("hubs"), list) or not data["hubs"]:
        raise InvalidInput("a cluster spec needs a non-empty 'hubs' list")
    pools: list[PoolSpec] = []
    for hub in data["hubs"]:
        if not isinstance(hub, Mapping) or "name" not in hub:
            raise InvalidInput("every hub needs a 'name'")
        hub_name = check_name("hub", str(hub["name"]))
        hub_pools = hub.get("pools")
        if not isinstance(hub_pools, list) or not hub_pools:
            raise InvalidInput(f"hub {hub_name} needs a non-empty 'pools' list")
        for raw in hub_pools:
            pools.append(_pool(raw, hub_name, len(pools) + 1))
    names = [pool.name for pool in pools]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidInput(
            f"pool names must be unique across hubs; repeated: {', '.join(duplicates)}"
        )
    spec = ClusterSpec(pools=tuple(pools))
    reservations = data.get("reservations") or []
    if not isinstance(reservations, list):
        raise InvalidInput("'reservations' must be a list")
    parsed = tuple(
        _reservation(raw, index + 1, spec, base) for index, raw in enumerate(reservations)
    )
    reserved: dict[str, int] = {}
    for reservation in parsed:
        reserved[reservation.pool] = reserved.get(reservation.pool, 0) + reservation.nodes
        if reserved[reservation.pool] > spec.pool_named(reservation.pool).nodes:
            raise InvalidInput(
                f"reservations on pool {reservation.pool} take more nodes than it has"
            )
    return ClusterSpec(pools=spec.pools, reservations=parsed)


def _pool(raw: Any, hub: str, pool_id: int) -> PoolSpec:
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"each pool of hub {hub} must be a mapping")
    missing = [
        key
        for key in ("name", "accelerator", "nodes", "devices_per_node", "h100_equivalent")
        if key not in raw
    ]
    if missing:
        raise InvalidInput(f"a pool of hub {hub} lacks {', '.join(missing)}")
    name = check_name("pool", str(raw["name"]))
    try:
        nodes, per_node = int(raw["nodes"]), int(raw["devices_per_node"])
        price = int(raw.get("krw_per_device_hour", 0))
    except (TypeError, ValueError):
        raise InvalidInput(
            f"pool {name}: nodes, devices_per_node and price must be integers"
        ) from None
    check_pool_shape(nodes, per_node, price)
    return PoolSpec(
        pool_id=pool_id,
        hub=hub,
        name=name,
        accelerator=accelerator_named(str(raw["accelerator"])).model,
        nodes=nodes,
        devices_per_node=per_node,
        rate_milli=parse_exchange_rate(str(raw["h100_equivalent"])),
        krw_per_device_hour=price,
    )


def _reservation(
    raw: Any, reservation_id: int, spec: ClusterSpec, base: Path | None
) -> ReservationSpec:
    if not isinstance(raw, Mapping) or not {"name", "pool", "nodes"} <= set(raw):
        raise InvalidInput("each reservation needs name, pool and nodes")
    pool = spec.pool_named(str(raw["pool"]))
    nodes = int(raw["nodes"])
    if nodes < 1:
        raise InvalidInput(f"reservation {raw['name']} must hold at least one node")
    capacity = nodes * pool.devices_per_node
    demand: Sequence[tuple[float, int]] = ((0.0, capacity),)
    if raw.get("demand_csv"):
        path = Path(str(raw["demand_csv"]))
        if base is not None and not path.is_absolute():
            path = base / path
        demand = _demand_steps(path, capacity)
    return ReservationSpec(reservation_id, str(raw["name"]), pool.name, nodes, tuple(demand))


def _demand_steps(path: Path, capacity: int) -> list[tuple[float, int]]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise InvalidInput(f"no demand file at {path}") from None
    if not lines or lines[0].strip() != "time_s,devices":
        raise InvalidInput(f"{path} must start with the header 'time_s,devices'")
    steps = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            time_text, devices_text = line.split(",")
            steps.append((float(time_text), min(capacity, max(0, int(float(devices_text))))))
        except ValueError:
            raise InvalidInput(
                f"{path}:{number}: expected 'time_s,devices', got {line!r}"
            ) from None
    return sorted(steps)
