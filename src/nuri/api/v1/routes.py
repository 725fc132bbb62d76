"""API v1 routes. Thin: authenticate, validate, call one use case, return its view."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import TypeAdapter

from nuri.api.batches import submission_batches
from nuri.api.idempotency import RESOLVED_ACTOR
from nuri.api.sign_ins import SignInAsked, sign_in_batches
from nuri.api.v1.schemas import (
    AllocationCreate,
    ByteOffset,
    HubCreate,
    JobCreate,
    LogChunk,
    MemberAdd,
    OrganisationCreate,
    PageSize,
    PoolCreate,
    ProjectCreate,
    ReservationCreate,
    ReservationDemand,
    RowId,
    TokenCreate,
    TokenIssued,
    UserCreate,
)
from nuri.service.auth import Actor
from nuri.service.commons import Commons
from nuri.service.jobs import Submission
from nuri.service.views import (
    AllocationView,
    HubView,
    JobView,
    OrganisationView,
    PoolView,
    ProjectView,
    ReservationView,
    TokenView,
    UsageView,
    UserView,
)

router = APIRouter()
bearer = HTTPBearer(auto_error=False)


# The dependencies below are coroutines on purpose: FastAPI runs a plain ``def`` dependency in a
# worker thread, and a thread hop costs more than these do. Blocking work goes to a thread.
async def commons_of(request: Request) -> Commons:
    commons: Commons = request.app.state.commons
    return commons


CommonsDep = Annotated[Commons, Depends(commons_of)]


def client_address(request: Request) -> str:
    """The address sign-in failures are counted against (the proxy's, unless uvicorn is told to
    trust its X-Forwarded-For; see docs/operations.md)."""
    return request.client.host if request.client is not None else "unknown"


async def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    if credentials is None:
        raise HTTPException(401, "no bearer token; set NURI_TOKEN or pass --token")
    token = credentials.credentials
    resolved = getattr(request.state, RESOLVED_ACTOR, None)
    if resolved is not None and resolved[0] == token:
        # The idempotency middleware has already made this sign-in attempt (and counted it).
        actor: Actor | None = resolved[1]
    else:
        answer = await sign_in_batches(request).submit(
            SignInAsked(address=client_address(request), token=token)
        )
        actor = answer.actor
    if actor is None:
        raise HTTPException(
            401, "unknown, revoked or expired token; ask an admin for a new one (nuri admin token)"
        )
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]


async def secret_answer(response: Response) -> None:
    """Mark an answer that carries a secret (a token): no cache, proxy or idempotency store
    keeps it, so a retry of its request is refused rather than shown the secret again."""
    response.headers["Cache-Control"] = "no-store"


@router.get("/me", tags=["users"])
def me(commons: CommonsDep, actor: ActorDep) -> UserView:
    """The caller."""
    return commons.directory.me(actor)


@router.get("/hubs", tags=["hubs"])
def list_hubs(commons: CommonsDep, _: ActorDep) -> list[HubView]:
    return commons.directory.list_hubs()


@router.post("/hubs", status_code=201, tags=["hubs"])
def create_hub(body: HubCreate, commons: CommonsDep, actor: ActorDep) -> HubView:
    return commons.directory.create_hub(actor, **body.model_dump())


@router.get("/pools", tags=["pools"])
def list_pools(commons: CommonsDep, _: ActorDep) -> list[PoolView]:
    """Every pool with its capacity, free devices and queue length."""
    return commons.directory.list_pools()


@router.post("/pools", status_code=201, tags=["pools"])
def create_pool(body: PoolCreate, commons: CommonsDep, actor: ActorDep) -> PoolView:
    return commons.directory.create_pool(actor, **body.model_dump())


@router.get("/organisations", tags=["organisations"])
def list_organisations(commons: CommonsDep, _: ActorDep) -> list[OrganisationView]:
    return commons.directory.list_organisations()


@router.post("/organisations", status_code=201, tags=["organisations"])
def create_organisation(
    body: OrganisationCreate, commons: CommonsDep, actor: ActorDep
) -> OrganisationView:
    return commons.directory.create_organisation(actor, **body.model_dump())


@router.get("/users", tags=["users"])
def list_users(commons: CommonsDep, actor: ActorDep) -> list[UserView]:
    """All users for admins; yourself otherwise."""
    return commons.directory.list_users(actor)


@router.post("/users", status_code=201, tags=["users"], dependencies=[Depends(secret_answer)])
def create_user(body: UserCreate, commons: CommonsDep, actor: ActorDep) -> TokenIssued:
    """Create a user; the answer carries their first token, shown only this once."""
    user, token = commons.directory.create_user(actor, **body.model_dump())
    return TokenIssued(user=user.name, token=token)


@router.post(
    "/users/{name}/tokens", status_code=201, tags=["users"], dependencies=[Depends(secret_answer)]
)
def issue_token(name: str, body: TokenCreate, commons: CommonsDep, actor: ActorDep) -> TokenIssued:
    """A new token for the user (yourself, or anyone for admins), optionally expiring."""
    issued = commons.directory.issue(actor, name, body.label, body.expires_in_days)
    return TokenIssued(
        user=issued.user, token=issued.token, id=issued.id, expires_at=issued.expires_at
    )


@router.get("/users/{name}/tokens", tags=["users"])
def list_tokens(name: str, commons: CommonsDep, actor: ActorDep) -> list[TokenView]:
    """The user's tokens (yours, or anyone's for admins): never the secret or its digest."""
    return commons.directory.list_tokens(actor, name)


@router.post("/users/{name}/tokens/{token_id}/revoke", tags=["users"])
def revoke_token(name: str, token_id: int, commons: CommonsDep, actor: ActorDep) -> TokenView:
    """Revoke a token at once, with the portal sessions opened with it."""
    return commons.directory.revoke_token(actor, name, token_id)


@router.get("/projects", tags=["projects"])
def list_projects(commons: CommonsDep, actor: ActorDep) -> list[ProjectView]:
    """The projects you lead or belong to (admins: all)."""
    return commons.directory.list_projects(actor)


@router.post("/projects", status_code=201, tags=["projects"])
def create_project(body: ProjectCreate, commons: CommonsDep, actor: ActorDep) -> ProjectView:
    return commons.directory.create_project(actor, **body.model_dump())


@router.post("/projects/{name}/members", tags=["projects"])
def add_member(name: str, body: MemberAdd, commons: CommonsDep, actor: ActorDep) -> ProjectView:
    return commons.directory.add_member(actor, project=name, user=body.user)


@router.get("/projects/{name}/usage", tags=["usage"])
def project_usage(name: str, commons: CommonsDep, actor: ActorDep) -> UsageView:
    """Awarded, used, held and remaining H100e GPU-hours and cost in won, per allocation and pool."""
    return commons.jobs.usage(actor, name)


@router.get("/allocations", tags=["allocations"])
def list_allocations(
    commons: CommonsDep, actor: ActorDep, project: str | None = None
) -> list[AllocationView]:
    return commons.directory.list_allocations(actor, project)


@router.post("/allocations", status_code=201, tags=["allocations"])
def create_allocation(
    body: AllocationCreate, commons: CommonsDep, actor: ActorDep
) -> AllocationView:
    return commons.directory.create_allocation(actor, **body.model_dump())


@router.get("/jobs", tags=["jobs"])
def list_jobs(
    commons: CommonsDep,
    actor: ActorDep,
    project: str | None = None,
    state: str | None = None,
    limit: PageSize = 100,
) -> list[JobView]:
    """Jobs in your projects, newest first."""
    return commons.jobs.list(actor, project=project, state=state, limit=limit)


_JOB_JSON = TypeAdapter(JobView)


@router.post("/jobs", status_code=201, tags=["jobs"], response_model=JobView)
async def submit_job(
    request: Request,
    body: JobCreate,
    commons: CommonsDep,
    actor: ActorDep,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> Response:
    """Queue a job. Send an ``Idempotency-Key`` header so that a retry never queues it twice."""
    answered: tuple[JobView, bytes] | None = None
    # Queued in a batch thread, outside this request's context: the key's claim goes with it.
    claim = commons.idempotent_requests.current_claim()

    def answer_with_the_job(view: JobView) -> None:
        # Rendered inside the job's transaction, so that a keyed request's answer is stored
        # with its claim: a retry after any crash gets this answer, and nothing is stored after.
        nonlocal answered
        answered = (view, _JOB_JSON.dump_json(view))
        commons.idempotent_requests.answer_with_claim(
            201, "application/json", answered[1], claim=claim
        )

    fields = body.model_dump()
    view = await submission_batches(request).submit(
        Submission(
            actor=actor,
            idempotency_key=idempotency_key,
            on_queued=answer_with_the_job,
            claim=claim,
            **fields | {"command": tuple(fields["command"])},
        )
    )
    # Only the answer of the transaction that committed: one that failed (a batch tried again
    # submission by submission) may have rendered a job that does not exist.
    return Response(
        answered[1] if answered is not None and answered[0] is view else _JOB_JSON.dump_json(view),
        status_code=201,
        media_type="application/json",
    )


@router.get("/jobs/{job_id}", tags=["jobs"])
def show_job(job_id: RowId, commons: CommonsDep, actor: ActorDep) -> JobView:
    return commons.jobs.show(actor, job_id)


@router.post("/jobs/{job_id}/cancel", tags=["jobs"])
def cancel_job(job_id: RowId, commons: CommonsDep, actor: ActorDep) -> JobView:
    return commons.jobs.cancel(actor, job_id)


@router.get("/jobs/{job_id}/logs", tags=["jobs"])
def job_logs(
    job_id: RowId,
    commons: CommonsDep,
    actor: ActorDep,
    offset: ByteOffset = 0,
) -> LogChunk:
    """Captured output from byte ``offset``; poll with ``next_offset`` to follow it."""
    # The state is read first: if it is final, every byte of output was written before it.
    job = commons.jobs.show(actor, job_id)
    data = commons.jobs.logs(actor, job_id, offset)
    return LogChunk(
        job_id=job_id,
        offset=offset,
        next_offset=offset + len(data),
        state=job.state,
        text=data.decode("utf-8", errors="replace"),
    )


@router.get("/reservations", tags=["reservations"])
def list_reservations(commons: CommonsDep, _: ActorDep) -> list[ReservationView]:
    """Devices held for long-running services, and how many of them each needs now."""
    return commons.directory.list_reservations()


@router.post("/reservations", status_code=201, tags=["reservations"])
def create_reservation(
    body: ReservationCreate, commons: CommonsDep, actor: ActorDep
) -> ReservationView:
    return commons.directory.create_reservation(actor, **body.model_dump())


@router.post("/reservations/{name}/demand", tags=["reservations"])
def set_reservation_demand(
    name: str, body: ReservationDemand, commons: CommonsDep, actor: ActorDep
) -> ReservationView:
    """Tell the scheduler how many reserved devices the service needs now; borrowers of the
    rest are preempted when it needs more."""
    return commons.directory.set_reservation_demand(actor, name=name, wanted=body.wanted)
