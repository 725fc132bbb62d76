"""The catalogue: licences checked, tiers and visibility enforced, purchases recorded once."""

import pytest

from nuri.domain.commons import Role
from nuri.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from nuri.service.auth import Actor
from nuri.service.catalogue import EntryView
from tests.conftest import World


def register(world: World, who: Actor, **overrides: object) -> EntryView:
    fields: dict[str, object] = {
        "kind": "model", "name": "nlp-ko", "version": "1.0", "project": "nlp",
        "licence": "CC-BY-4.0", "provenance": "Fine-tuned from an open 7B model on AI Hub data",
        "uri": "s3://models/nlp-ko/1.0", "visibility": "public", "tier": "open",
    } | overrides  # fmt: skip
    return world.commons.catalogue.register(who, **fields)  # type: ignore[arg-type]


def test_licences_must_be_spdx_and_open_tiers_open_and_public(world: World) -> None:
    with pytest.raises(InvalidInput, match="unknown licence 'CC-BY'"):
        register(world, world.pi, licence="CC-BY")
    with pytest.raises(InvalidInput, match=r"is written 'CC-BY-SA-4\.0'"):
        register(world, world.pi, licence="cc-by-sa-4.0")
    with pytest.raises(InvalidInput, match="open licence"):
        register(world, world.pi, licence="LicenseRef-hanbit")
    with pytest.raises(InvalidInput, match="make it public"):
        register(world, world.pi, visibility="project")
    with pytest.raises(InvalidInput, match="provenance"):
        register(world, world.pi, provenance=" ")
    entry = register(world, world.member)
    assert (entry.reference, entry.licence, entry.open_licence) == ("nlp-ko@1.0", "CC-BY-4.0", True)
    with pytest.raises(Conflict, match="bump the version"):
        register(world, world.pi)
    with pytest.raises(Forbidden, match="only members of nlp"):
        register(world, world.outsider, name="other", version="2")


def test_premium_entries_stay_with_their_team_and_purchases_are_recorded_once(
    world: World,
) -> None:
    catalogue = world.commons.catalogue
    register(
        world,
        world.pi,
        name="nlp-med",
        licence="LicenseRef-nlp-terms",
        visibility="project",
        tier="premium",
    )
    assert [e.reference for e in catalogue.entries(world.member)] == ["nlp-med@1.0"]
    assert catalogue.entries(world.outsider) == []
    with pytest.raises(NotFound):
        catalogue.entry(world.outsider, "model", "nlp-med@1.0")
    d = world.commons.directory
    d.create_organisation(
        world.admin, name="nia", title="National Information Agency", kind="public-agency"
    )
    manager_view, _ = d.create_user(
        world.admin, name="moon", display_name="", role="manager", organisation=None
    )
    manager = Actor(manager_view.id, "moon", Role.MANAGER)
    with pytest.raises(InvalidInput, match="acme is a startup"):
        catalogue.record_purchase(
            manager, "model", "nlp-med@1.0", buyer="acme", krw=1, contract="c-0"
        )
    with pytest.raises(Forbidden):
        catalogue.record_purchase(
            world.pi, "model", "nlp-med@1.0", buyer="nia", krw=1, contract="c-0"
        )
    first = catalogue.record_purchase(
        manager, "model", "nlp-med@1.0", buyer="nia", krw=12_000_000, contract="NIA-2027-001",
        purpose="Korean medical QA for the public health portal",
    )  # fmt: skip
    again = catalogue.record_purchase(
        manager, "model", "nlp-med@1.0", buyer="nia", krw=12_000_000, contract="NIA-2027-001"
    )
    assert again == first
    with pytest.raises(Conflict, match="other terms"):
        catalogue.record_purchase(
            manager, "model", "nlp-med@1.0", buyer="nia", krw=1, contract="NIA-2027-001"
        )
    assert [p.krw for p in catalogue.purchases(world.pi)] == [12_000_000]
    assert catalogue.purchases(world.outsider) == []
    assert catalogue.entry(world.pi, "model", "nlp-med@1.0").purchases_krw == 12_000_000
    register(world, world.pi, name="nlp-open", version="1")
    with pytest.raises(Conflict, match="open tier"):
        catalogue.record_purchase(
            manager, "model", "nlp-open@1", buyer="nia", krw=5, contract="c-1"
        )
