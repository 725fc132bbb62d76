"""The FastAPI application: routes under /api/v1, health at /healthz, the engine in the background."""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from fastapi import Depends, FastAPI
from sqlalchemy import text

import nuri
from nuri.api.batches import SubmissionBatches
from nuri.api.body_limit import install_body_limit
from nuri.api.errors import ERROR_RESPONSES, install_error_handlers
from nuri.api.idempotency import IdempotencyMiddleware
from nuri.api.metrics import install_metrics
from nuri.api.request_log import install_request_log
from nuri.api.sign_ins import SignInBatches, SignIns
from nuri.api.v1 import catalogue, classroom, programmes, reports, routes
from nuri.api.v1.printable import refuse_control_characters_in_url
from nuri.api.v1.schemas import Health
from nuri.engine.runner import EngineThread
from nuri.service.analyses_worker import AnalysesProcess
from nuri.service.commons import Commons
from nuri.store.migrate import current_revision
from nuri.web.app import mount_portal


@contextmanager
def background_work(commons: Commons) -> Iterator[None]:
    """While open: the scheduling engine, and (if the settings ask) the process that works out
    forecasts and plans ahead of time. Closing stops both and hands the lease back."""
    thread = EngineThread(commons.scheduling_engine(), commons.settings.scheduler_interval_s)
    thread.start()
    analyses = None
    if commons.settings.analyses:
        analyses = AnalysesProcess(commons.settings)
        analyses.start()
    try:
        yield
    finally:
        if analyses is not None:
            analyses.stop()
        thread.stop()
        commons.backend.close()


def create_app(commons: Commons, *, run_engine: bool = True) -> FastAPI:
    """An app serving ``commons``. With ``run_engine`` the scheduling engine runs while it serves,
    and (if the settings ask) the process that works out forecasts and plans ahead of time."""

    submissions = SubmissionBatches(commons.jobs.submit_many, name="nuri-submissions")
    sign_ins = SignInBatches(SignIns(commons).answer_many, name="nuri-sign-ins")

    def close_batches() -> None:
        sign_ins.close()
        submissions.close()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not run_engine:
            try:
                yield
            finally:
                close_batches()
                commons.backend.close()
            return
        with background_work(commons):
            try:
                yield
            finally:
                close_batches()

    app = FastAPI(
        title="nuri",
        version=nuri.__version__,
        summary="A national AI compute commons: pools, awards, jobs and the ledger.",
        lifespan=lifespan,
    )
    app.state.commons = commons
    app.state.submission_batches = submissions
    app.state.sign_in_batches = sign_ins
    install_error_handlers(app)
    app.add_middleware(
        IdempotencyMiddleware,
        requests=commons.idempotent_requests,
        sign_ins=sign_ins,
    )
    install_body_limit(app, commons.settings.max_request_body_bytes)
    install_metrics(app, commons)
    install_request_log(app)  # added last, so outermost: its duration covers the metrics too
    for module in (routes, programmes, catalogue, classroom, reports):
        app.include_router(
            module.router,
            prefix="/api/v1",
            responses=ERROR_RESPONSES,
            dependencies=[Depends(refuse_control_characters_in_url)],
        )
    mount_portal(app)

    @app.get("/healthz", tags=["health"])
    def healthz() -> Health:
        """Liveness and readiness: the database answers and its schema revision."""
        with commons.database.connect() as connection:
            connection.execute(text("SELECT 1"))
        return Health(
            status="ok",
            version=nuri.__version__,
            database=commons.database.dialect.name,
            schema_revision=current_revision(commons.database),
        )

    return app
