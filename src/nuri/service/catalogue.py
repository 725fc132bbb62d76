"""The catalogue: models and datasets teams register, with licences, provenance and visibility.

Tiers. An *open* entry is released to everyone: it must be public and carry an open licence.
A *premium* entry is kept by its team (visible to the project, or to a programme's
participants); public agencies may use it, and each use is recorded as a purchase in whole won.

Visibility. ``public``: everyone. ``programme``: managers and the teams of the call it names.
``project``: the owning project's PI and members. Admins and managers see every entry.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from nuri.domain.commons import OrganisationKind, Role, check_name
from nuri.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from nuri.engine.clock import Clock
from nuri.programmes.licences import licence_named
from nuri.service.access import visible_project_ids
from nuri.service.audit import audit_entry
from nuri.service.auth import Actor
from nuri.service.programmes import require_role
from nuri.store import repository
from nuri.store.tables import (
    CallRow,
    CatalogueEntryRow,
    OrganisationRow,
    ProjectRow,
    ProposalRow,
    PurchaseRow,
)

KINDS = ("model", "dataset")
VISIBILITIES = ("public", "programme", "project")
TIERS = ("open", "premium")


@dataclass(frozen=True, slots=True)
class EntryView:
    kind: str
    name: str
    version: str
    reference: str
    """``name@version``: how evaluation runs and people name it."""
    project: str
    licence: str
    open_licence: bool
    provenance: str
    uri: str
    visibility: str
    tier: str
    call: str | None
    created_at: datetime
    purchases_krw: int


@dataclass(frozen=True, slots=True)
class PurchaseView:
    entry: str
    buyer: str
    krw: int
    reference: str
    purpose: str
    recorded_at: datetime


class Catalogue:
    """Use cases of the catalogue; one transaction each."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def register(
        self,
        actor: Actor,
        *,
        kind: str,
        name: str,
        version: str,
        project: str,
        licence: str,
        provenance: str,
        uri: str,
        visibility: str = "project",
        tier: str = "premium",
        call: str | None = None,
    ) -> EntryView:
        """Register a version of a model or dataset of ``project`` (its PI or members)."""
        _one_of("kind", kind, KINDS)
        _one_of("visibility", visibility, VISIBILITIES)
        _one_of("tier", tier, TIERS)
        check_name(kind, name)
        if not version or len(version) > 40 or not all(c.isalnum() or c in ".-_+" for c in version):
            raise InvalidInput("a version is 1-40 letters, digits and . - _ + (e.g. 1.2.0)")
        checked = licence_named(licence)
        if not provenance.strip():
            raise InvalidInput(
                "say where it comes from (provenance): base model, data sources, training run"
            )
        if not uri.strip() or len(uri) > 500:
            raise InvalidInput("say where the artefact is (uri, at most 500 characters)")
        if tier == "open" and (visibility != "public" or not checked.open):
            raise InvalidInput(
                "an open-tier entry is released to everyone: make it public, under an open"
                " licence (e.g. CC-BY-4.0 or Apache-2.0)"
            )
        if visibility == "programme" and call is None:
            raise InvalidInput("programme visibility names the call whose teams may see it")
        with self._sessions.begin() as session:
            project_row = repository.named(session, ProjectRow, "project", project)
            visible = visible_project_ids(session, actor)
            if visible is not None and project_row.id not in visible:
                raise Forbidden(f"only members of {project} may register its {kind}s")
            call_id = None if call is None else repository.named(session, CallRow, "call", call).id
            duplicate = session.scalar(
                select(CatalogueEntryRow.id).where(
                    CatalogueEntryRow.kind == kind,
                    CatalogueEntryRow.name == name,
                    CatalogueEntryRow.version == version,
                )
            )
            if duplicate is not None:
                raise Conflict(f"{kind} {name}@{version} is already registered; bump the version")
            owner = session.scalar(
                select(CatalogueEntryRow.project_id).where(
                    CatalogueEntryRow.kind == kind, CatalogueEntryRow.name == name
                )
            )
            if owner is not None and owner != project_row.id:
                raise Conflict(f"the {kind} name {name} belongs to another project; choose another")
            row = CatalogueEntryRow(
                kind=kind,
                name=name,
                version=version,
                project_id=project_row.id,
                licence=checked.spdx,
                provenance=provenance,
                uri=uri,
                visibility=visibility,
                tier=tier,
                call_id=call_id,
                created_by=actor.user_id,
                created_at=self._clock(),
            )
            session.add(row)
            audit_entry(
                session,
                self._clock(),
                actor,
                "catalogue.register",
                f"{kind} {name}@{version}",
                {"licence": checked.spdx, "tier": tier},
            )
            session.flush()
            return _view(session, row)

    def entries(self, actor: Actor, kind: str | None = None) -> list[EntryView]:
        with self._sessions.begin() as session:
            query = select(CatalogueEntryRow).order_by(
                CatalogueEntryRow.kind, CatalogueEntryRow.name, CatalogueEntryRow.id
            )
            if kind is not None:
                _one_of("kind", kind, KINDS)
                query = query.where(CatalogueEntryRow.kind == kind)
            return [
                _view(session, row)
                for row in session.scalars(query)
                if _may_see(session, actor, row)
            ]

    def entry(self, actor: Actor, kind: str, reference: str) -> EntryView:
        with self._sessions.begin() as session:
            return _view(session, self._visible(session, actor, kind, reference))

    def resolve_model(self, session: Session, reference: str, project_id: int) -> CatalogueEntryRow:
        """The registered model ``name@version`` a project may evaluate: its own, or public."""
        row = _find(session, "model", reference)
        if row.project_id != project_id and row.visibility != "public":
            raise Forbidden(f"model {reference} belongs to another team")
        return row

    def record_purchase(
        self,
        actor: Actor,
        kind: str,
        reference: str,
        *,
        buyer: str,
        krw: int,
        contract: str,
        purpose: str = "",
    ) -> PurchaseView:
        """A public agency's use of a premium entry (managers and admins record it)."""
        require_role(actor, "record purchases", Role.MANAGER)
        if isinstance(krw, bool) or not isinstance(krw, int) or krw <= 0:
            raise InvalidInput("a purchase is a whole number of won above zero")
        if not contract.strip() or len(contract) > 100:
            raise InvalidInput("give the purchase's reference (e.g. the contract number)")
        with self._sessions.begin() as session:
            row = _find(session, kind, reference)
            if row.tier != "premium":
                raise Conflict(f"{kind} {reference} is in the open tier; it is free to everyone")
            organisation = repository.named(session, OrganisationRow, "organisation", buyer)
            if organisation.kind != OrganisationKind.PUBLIC_AGENCY.value:
                raise InvalidInput(
                    f"{buyer} is a {organisation.kind}; purchases are by public agencies"
                )
            existing = session.scalar(select(PurchaseRow).where(PurchaseRow.reference == contract))
            if existing is not None:
                if (existing.entry_id, existing.buyer_organisation_id, existing.krw) != (
                    row.id,
                    organisation.id,
                    krw,
                ):
                    raise Conflict(f"purchase {contract} is already recorded with other terms")
                return _purchase_view(session, existing)
            purchase = PurchaseRow(
                entry_id=row.id,
                buyer_organisation_id=organisation.id,
                krw=krw,
                reference=contract,
                purpose=purpose,
                recorded_by=actor.user_id,
                recorded_at=self._clock(),
            )
            session.add(purchase)
            audit_entry(
                session,
                self._clock(),
                actor,
                "catalogue.purchase",
                f"{kind} {reference}",
                {"buyer": buyer, "krw": krw, "reference": contract},
            )
            session.flush()
            return _purchase_view(session, purchase)

    def purchases(self, actor: Actor) -> list[PurchaseView]:
        """Every purchase (managers, admins), or those of the caller's projects' entries."""
        with self._sessions.begin() as session:
            query = select(PurchaseRow).order_by(PurchaseRow.id)
            visible = (
                None
                if actor.role in (Role.ADMIN, Role.MANAGER)
                else visible_project_ids(session, actor)
            )
            if visible is not None:
                query = query.join(
                    CatalogueEntryRow, CatalogueEntryRow.id == PurchaseRow.entry_id
                ).where(CatalogueEntryRow.project_id.in_(visible))
            return [_purchase_view(session, row) for row in session.scalars(query)]

    def _visible(
        self, session: Session, actor: Actor, kind: str, reference: str
    ) -> CatalogueEntryRow:
        row = _find(session, kind, reference)
        if not _may_see(session, actor, row):
            raise NotFound(f"no {kind} {reference} that you may see")
        return row


def _one_of(what: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidInput(f"{what} {value!r} is not one of: {', '.join(allowed)}")


def _find(session: Session, kind: str, reference: str) -> CatalogueEntryRow:
    _one_of("kind", kind, KINDS)
    name, at, version = reference.partition("@")
    if not at or not name or not version:
        raise InvalidInput(f"name a catalogue entry as name@version, e.g. {name or 'ko-7b'}@1.0")
    row = session.scalar(
        select(CatalogueEntryRow).where(
            CatalogueEntryRow.kind == kind,
            CatalogueEntryRow.name == name,
            CatalogueEntryRow.version == version,
        )
    )
    if row is None:
        raise NotFound(f"no {kind} {reference} in the catalogue; register it first")
    return row


def _may_see(session: Session, actor: Actor, row: CatalogueEntryRow) -> bool:
    if row.visibility == "public" or actor.role in (Role.ADMIN, Role.MANAGER):
        return True
    visible = visible_project_ids(session, actor) or set()
    if row.project_id in visible:
        return True
    if row.visibility == "programme" and row.call_id is not None:
        teams = set(
            session.scalars(
                select(ProposalRow.project_id).where(ProposalRow.call_id == row.call_id)
            )
        )
        return bool(teams & visible)
    return False


def _view(session: Session, row: CatalogueEntryRow) -> EntryView:
    project = session.get(ProjectRow, row.project_id)
    assert project is not None
    call = None if row.call_id is None else session.get(CallRow, row.call_id)
    spent = sum(session.scalars(select(PurchaseRow.krw).where(PurchaseRow.entry_id == row.id)))
    return EntryView(
        kind=row.kind,
        name=row.name,
        version=row.version,
        reference=f"{row.name}@{row.version}",
        project=project.name,
        licence=row.licence,
        open_licence=licence_named(row.licence).open,
        provenance=row.provenance,
        uri=row.uri,
        visibility=row.visibility,
        tier=row.tier,
        call=None if call is None else call.name,
        created_at=row.created_at,
        purchases_krw=int(spent),
    )


def _purchase_view(session: Session, row: PurchaseRow) -> PurchaseView:
    entry = session.get(CatalogueEntryRow, row.entry_id)
    buyer = session.get(OrganisationRow, row.buyer_organisation_id)
    assert entry is not None and buyer is not None
    return PurchaseView(
        entry=f"{entry.kind} {entry.name}@{entry.version}",
        buyer=buyer.name,
        krw=row.krw,
        reference=row.reference,
        purpose=row.purpose,
        recorded_at=row.recorded_at,
    )
