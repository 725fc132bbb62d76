"""API v1 routes of the catalogue: models and datasets with licences, and purchases of them."""

from fastapi import APIRouter
from pydantic import Field

from nuri.api.v1.routes import ActorDep, CommonsDep
from nuri.api.v1.schemas import Body
from nuri.service.catalogue import EntryView, PurchaseView

router = APIRouter(tags=["catalogue"])


class EntryCreate(Body):
    kind: str = Field(description="model or dataset.")
    name: str = Field(max_length=63, description="Slug, e.g. 'snu-ko-7b'.")
    version: str = Field(max_length=40, description="e.g. '1.2.0'.")
    project: str = Field(description="The team's project that owns it.")
    licence: str = Field(max_length=100, description="SPDX id, e.g. CC-BY-4.0, Apache-2.0.")
    provenance: str = Field(max_length=20_000, description="Base model, data sources, run.")
    uri: str = Field(max_length=500, description="Where the artefact is.")
    visibility: str = Field(default="project", description="public, programme or project.")
    tier: str = Field(default="premium", description="open (to everyone) or premium (kept).")
    call: str | None = Field(default=None, description="For programme visibility: the call.")


class PurchaseCreate(Body):
    buyer: str = Field(description="The public agency (organisation name).")
    krw: int = Field(gt=0, le=10**15, description="Whole won.")
    contract: str = Field(max_length=100, description="The purchase's unique reference.")
    purpose: str = Field(default="", max_length=2000)


@router.post("/catalogue", status_code=201)
def register_entry(body: EntryCreate, commons: CommonsDep, actor: ActorDep) -> EntryView:
    return commons.catalogue.register(actor, **body.model_dump())


@router.get("/catalogue")
def list_entries(commons: CommonsDep, actor: ActorDep, kind: str | None = None) -> list[EntryView]:
    """The entries the caller may see."""
    return commons.catalogue.entries(actor, kind)


@router.get("/catalogue/purchases")
def list_purchases(commons: CommonsDep, actor: ActorDep) -> list[PurchaseView]:
    return commons.catalogue.purchases(actor)


@router.get("/catalogue/{kind}/{reference}")
def show_entry(kind: str, reference: str, commons: CommonsDep, actor: ActorDep) -> EntryView:
    """One entry by ``name@version``."""
    return commons.catalogue.entry(actor, kind, reference)


@router.post("/catalogue/{kind}/{reference}/purchases", status_code=201)
def record_purchase(
    kind: str, reference: str, body: PurchaseCreate, commons: CommonsDep, actor: ActorDep
) -> PurchaseView:
    """Record a public agency's use of a premium entry (idempotent by contract reference)."""
    return commons.catalogue.record_purchase(actor, kind, reference, **body.model_dump())
