"""Staged competitions: stages of a decided call, evaluation runs as jobs, leaderboards, gates.

A call's awarded teams compete in stages (e.g. 5 teams for 6 months, then the best 2 for 6
more). Each stage has an evaluation task: a command the commons runs, as a job charged to the
team's own project, with the URI of the team's registered model as its last argument; it prints
its metrics as one JSON object on its last line of output. The model is a registered catalogue
entry of the team (or a public one); the command gets the entry's URI, where the artefact is. The leaderboard ranks teams by their
best run on the stage's metric (:mod:`nuri.programmes.stage_gate`). The gate advances the top
``k`` (or those beyond a threshold): the winners' allocations are extended to the end of the
next stage, the others' end now. Every gate is in the audit log with its standings.
"""

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from nuri.domain.commons import Role, check_name
from nuri.domain.errors import Conflict, InvalidInput, NotFound
from nuri.domain.jobs import JobState
from nuri.engine.clock import Clock
from nuri.programmes.stage_gate import EvaluationResult, Standing, gate, leaderboard
from nuri.service.access import visible_project_ids
from nuri.service.audit import audit_entry
from nuri.service.auth import Actor
from nuri.service.catalogue import Catalogue
from nuri.service.jobs import Jobs
from nuri.service.programmes import require_role
from nuri.store import repository
from nuri.store.tables import (
    AllocationRow,
    AwardDecisionRow,
    CallRow,
    EvaluationRunRow,
    JobRow,
    PoolRow,
    ProjectRow,
    ProposalRow,
    StageRow,
)

LogReader = Callable[[int, int], bytes]


@dataclass(frozen=True, slots=True)
class StageView:
    call: str
    number: int
    name: str
    ends_at: datetime
    metric: str
    higher_is_better: bool
    top_k: int | None
    threshold: float | None
    task_command: list[str]
    task_pool: str
    task_gpus: int
    task_time_limit_s: int
    state: str
    teams: list[str]


@dataclass(frozen=True, slots=True)
class EvaluationView:
    id: int
    proposal: str
    job_id: int
    job_state: str
    model: str
    metrics: dict[str, float] | None
    problem: str | None


@dataclass(frozen=True, slots=True)
class StandingView:
    rank: int
    proposal: str
    value: float | None


@dataclass(frozen=True, slots=True)
class GateView:
    advance: list[str]
    stop: list[str]
    rule: str
    standings: list[StandingView]
    extended_to: datetime | None


class Competitions:
    """Use cases of staged competitions; one transaction each (an evaluation's job is queued by
    ``Jobs.submit`` in its own)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        jobs: Jobs,
        read_logs: LogReader,
        catalogue: Catalogue,
    ) -> None:
        self._catalogue = catalogue
        self._sessions = sessions
        self._clock = clock
        self._jobs = jobs
        self._read_logs = read_logs

    def add_stage(
        self,
        actor: Actor,
        call: str,
        *,
        name: str,
        ends_at: datetime,
        metric: str,
        task_command: Sequence[str],
        task_pool: str,
        task_gpus: int = 1,
        task_time_limit_s: int = 3600,
        higher_is_better: bool = True,
        top_k: int | None = None,
        threshold: float | None = None,
    ) -> StageView:
        require_role(actor, "add stages", Role.MANAGER)
        check_name("stage", name)
        if not task_command:
            raise InvalidInput("a stage's evaluation task needs a command")
        if top_k is None and threshold is None:
            raise InvalidInput("a stage's gate needs top_k, a threshold, or both")
        if top_k is not None and top_k < 1:
            raise InvalidInput("top_k must be at least 1")
        if ends_at.tzinfo is None:
            raise InvalidInput("the stage's end needs a time zone")
        with self._sessions.begin() as session:
            call_row = repository.named(session, CallRow, "call", call)
            repository.named(session, PoolRow, "pool", task_pool)
            previous = session.scalar(
                select(StageRow)
                .where(StageRow.call_id == call_row.id)
                .order_by(StageRow.number.desc())
            )
            begins = previous.ends_at if previous is not None else call_row.award_starts_at
            if ends_at <= begins:
                raise InvalidInput(f"stage {name} must end after {begins.isoformat()}")
            row = StageRow(
                call_id=call_row.id,
                number=1 if previous is None else previous.number + 1,
                name=name,
                ends_at=ends_at,
                metric=metric,
                higher_is_better=higher_is_better,
                top_k=top_k,
                threshold=threshold,
                task_command=list(task_command),
                task_pool=task_pool,
                task_gpus=task_gpus,
                task_time_limit_s=task_time_limit_s,
                state="open",
                gated_at=None,
            )
            session.add(row)
            audit_entry(
                session,
                self._clock(),
                actor,
                "stage.add",
                f"call {call} stage {name}",
                {"number": row.number},
            )
            session.flush()
            return _stage_view(session, call_row, row)

    def stages(self, call: str) -> list[StageView]:
        with self._sessions.begin() as session:
            call_row = repository.named(session, CallRow, "call", call)
            rows = session.scalars(
                select(StageRow).where(StageRow.call_id == call_row.id).order_by(StageRow.number)
            )
            return [_stage_view(session, call_row, row) for row in rows]

    def submit_evaluation(
        self, actor: Actor, call: str, stage: str, proposal: str, model: str
    ) -> EvaluationView:
        """Run the stage's task on ``model`` as a job of the team's project, charged to it."""
        if not model.strip() or len(model) > 200:
            raise InvalidInput("name the model to evaluate (at most 200 characters)")
        with self._sessions.begin() as session:
            call_row, stage_row = self._stage(session, call, stage)
            if stage_row.state != "open":
                raise Conflict(f"stage {stage} is {stage_row.state}; its evaluations are closed")
            proposal_row = session.scalar(
                select(ProposalRow).where(
                    ProposalRow.call_id == call_row.id, ProposalRow.name == proposal
                )
            )
            if proposal_row is None:
                raise NotFound(f"call {call} has no proposal named {proposal!r}")
            if proposal not in _teams(session, call_row, stage_row):
                raise Conflict(f"{proposal} is not competing in stage {stage}")
            project_row = session.get(ProjectRow, proposal_row.project_id)
            assert project_row is not None  # a foreign key guarantees it
            project = project_row.name
            # The artefact evaluated is a registered one: its licence and provenance are known.
            entry = self._catalogue.resolve_model(session, model, project_row.id)
            model = f"{entry.name}@{entry.version}"
            command = [*stage_row.task_command, entry.uri]
            pool, gpus, limit = (
                stage_row.task_pool,
                stage_row.task_gpus,
                stage_row.task_time_limit_s,
            )
        job = self._jobs.submit(
            actor,
            project=project,
            pool=pool,
            gpus=gpus,
            time_limit_s=limit,
            command=command,
            name=f"eval-{stage}-{proposal}",
        )
        with self._sessions.begin() as session:
            run = EvaluationRunRow(
                stage_id=stage_row.id,
                proposal_id=proposal_row.id,
                job_id=job.id,
                model=model,
                metrics=None,
                problem=None,
                submitted_at=self._clock(),
            )
            session.add(run)
            session.flush()
            return _evaluation_view(session, run, proposal)

    def evaluations(self, actor: Actor, call: str, stage: str) -> list[EvaluationView]:
        """The stage's runs: every team's for managers and admins, else the caller's teams' only
        (which model a rival ran, and its job, are the rival's; the leaderboard is public)."""
        self._collect(call, stage)
        with self._sessions.begin() as session:
            _, stage_row = self._stage(session, call, stage)
            query = (
                select(EvaluationRunRow, ProposalRow.name)
                .join(ProposalRow, ProposalRow.id == EvaluationRunRow.proposal_id)
                .where(EvaluationRunRow.stage_id == stage_row.id)
                .order_by(EvaluationRunRow.id)
            )
            if actor.role is not Role.MANAGER:
                visible = visible_project_ids(session, actor)
                if visible is not None:
                    query = query.where(ProposalRow.project_id.in_(visible))
            rows = session.execute(query).all()
            return [_evaluation_view(session, run, name) for run, name in rows]

    def leaderboard(self, call: str, stage: str) -> list[StandingView]:
        self._collect(call, stage)
        with self._sessions.begin() as session:
            call_row, stage_row = self._stage(session, call, stage)
            return [
                StandingView(s.rank, s.team, s.value)
                for s in self._standings(session, call_row, stage_row)
            ]

    def gate(self, actor: Actor, call: str, stage: str) -> GateView:
        """Decide the stage: extend the winners' allocations to the next stage's end, end the
        others' now."""
        require_role(actor, "decide stage gates", Role.MANAGER)
        self._collect(call, stage)
        now = self._clock()
        with self._sessions.begin() as session:
            call_row, stage_row = self._stage(session, call, stage)
            if stage_row.state != "open":
                raise Conflict(f"stage {stage} was already gated")
            standings = self._standings(session, call_row, stage_row)
            decision = gate(
                standings,
                top_k=stage_row.top_k,
                threshold=stage_row.threshold,
                higher_is_better=stage_row.higher_is_better,
            )
            following = session.scalar(
                select(StageRow).where(
                    StageRow.call_id == call_row.id, StageRow.number == stage_row.number + 1
                )
            )
            extended_to = following.ends_at if following is not None else None
            allocations = _allocations_by_proposal(session, call_row)
            for name in decision.advance:
                allocation = allocations.get(name)
                if (
                    allocation is not None
                    and extended_to is not None
                    and allocation.ends_at < extended_to
                ):
                    allocation.ends_at = extended_to
            for name in decision.stop:
                allocation = allocations.get(name)
                if allocation is not None and allocation.ends_at > now:
                    allocation.ends_at = max(now, allocation.starts_at)
            stage_row.state = "gated"
            stage_row.gated_at = now
            audit_entry(
                session,
                now,
                actor,
                "stage.gate",
                f"call {call} stage {stage}",
                {
                    "rule": decision.rule,
                    "advance": list(decision.advance),
                    "stop": list(decision.stop),
                    "standings": [[s.rank, s.team, s.value] for s in standings],
                    "extended_to": None if extended_to is None else extended_to.isoformat(),
                },
            )
            return GateView(
                list(decision.advance),
                list(decision.stop),
                decision.rule,
                [StandingView(s.rank, s.team, s.value) for s in standings],
                extended_to,
            )

    # -- helpers -----------------------------------------------------------------------------

    def _stage(self, session: Session, call: str, stage: str) -> tuple[CallRow, StageRow]:
        call_row = repository.named(session, CallRow, "call", call)
        row = session.scalar(
            select(StageRow).where(StageRow.call_id == call_row.id, StageRow.name == stage)
        )
        if row is None:
            raise NotFound(f"call {call} has no stage named {stage!r}")
        return call_row, row

    def _standings(
        self, session: Session, call_row: CallRow, stage_row: StageRow
    ) -> list[Standing]:
        rows = session.execute(
            select(EvaluationRunRow.metrics, ProposalRow.name)
            .join(ProposalRow, ProposalRow.id == EvaluationRunRow.proposal_id)
            .where(EvaluationRunRow.stage_id == stage_row.id, EvaluationRunRow.metrics.is_not(None))
        ).all()
        results = [EvaluationResult(name, dict(metrics or {})) for metrics, name in rows]
        return leaderboard(
            _teams(session, call_row, stage_row),
            results,
            stage_row.metric,
            stage_row.higher_is_better,
        )

    def _collect(self, call: str, stage: str) -> None:
        """Read the metrics of evaluation jobs that completed since last asked."""
        with self._sessions.begin() as session:
            _, stage_row = self._stage(session, call, stage)
            if stage_row.state != "open":
                # A gated stage's results are final: later stages' teams are recomputed from
                # them, so a run finishing after the gate must not change them.
                return
            pending = session.execute(
                select(EvaluationRunRow.id, JobRow.id, JobRow.state)
                .join(JobRow, JobRow.id == EvaluationRunRow.job_id)
                .where(
                    EvaluationRunRow.stage_id == stage_row.id,
                    EvaluationRunRow.metrics.is_(None),
                    EvaluationRunRow.problem.is_(None),
                )
            ).all()
        for run_id, job_id, state in pending:
            if not JobState(state).terminal:
                continue
            metrics: dict[str, float] | None = None
            problem: str | None = f"the evaluation job ended {state}"
            if state == JobState.COMPLETED.value:
                metrics, problem = _metrics(self._read_logs(job_id, 0))
            with self._sessions.begin() as session:
                run = session.get(EvaluationRunRow, run_id)
                if run is not None and run.metrics is None and run.problem is None:
                    run.metrics, run.problem = metrics, problem


def _metrics(output: bytes) -> tuple[dict[str, float] | None, str | None]:
    """The metrics object on the last non-empty line of an evaluation's output."""
    lines = [line for line in output.decode(errors="replace").splitlines() if line.strip()]
    if not lines:
        return None, "the evaluation printed nothing"
    try:
        parsed = json.loads(lines[-1])
    except json.JSONDecodeError:
        return None, "the evaluation's last line is not a JSON object of metrics"
    if not isinstance(parsed, dict):
        return None, "the evaluation's last line is not a JSON object of metrics"
    metrics = {
        str(key): float(value)
        for key, value in parsed.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }
    if not metrics:
        return None, "the evaluation reported no numeric metric"
    return metrics, None


def _teams(session: Session, call_row: CallRow, stage_row: StageRow) -> list[str]:
    """The teams competing in a stage: awarded in the call, and advanced by every earlier gate."""
    teams = list(
        session.scalars(
            select(ProposalRow.name)
            .join(AwardDecisionRow, AwardDecisionRow.proposal_id == ProposalRow.id)
            .where(ProposalRow.call_id == call_row.id, AwardDecisionRow.allocation_id.is_not(None))
            .order_by(ProposalRow.name)
        )
    )
    earlier = session.scalars(
        select(StageRow)
        .where(StageRow.call_id == call_row.id, StageRow.number < stage_row.number)
        .order_by(StageRow.number)
    )
    for previous in earlier:
        if previous.state != "gated":
            continue
        decision = gate(
            leaderboard(
                teams,
                [
                    EvaluationResult(name, dict(metrics or {}))
                    for metrics, name in session.execute(
                        select(EvaluationRunRow.metrics, ProposalRow.name)
                        .join(ProposalRow, ProposalRow.id == EvaluationRunRow.proposal_id)
                        .where(
                            EvaluationRunRow.stage_id == previous.id,
                            EvaluationRunRow.metrics.is_not(None),
                        )
                    ).all()
                ],
                previous.metric,
                previous.higher_is_better,
            ),
            top_k=previous.top_k,
            threshold=previous.threshold,
            higher_is_better=previous.higher_is_better,
        )
        teams = [team for team in teams if team in decision.advance]
    return teams


def _allocations_by_proposal(session: Session, call_row: CallRow) -> dict[str, AllocationRow]:
    rows = session.execute(
        select(ProposalRow.name, AllocationRow)
        .join(AwardDecisionRow, AwardDecisionRow.proposal_id == ProposalRow.id)
        .join(AllocationRow, AllocationRow.id == AwardDecisionRow.allocation_id)
        .where(ProposalRow.call_id == call_row.id)
    ).all()
    return {name: allocation for name, allocation in rows}


def _stage_view(session: Session, call_row: CallRow, row: StageRow) -> StageView:
    return StageView(
        call=call_row.name,
        number=row.number,
        name=row.name,
        ends_at=row.ends_at,
        metric=row.metric,
        higher_is_better=row.higher_is_better,
        top_k=row.top_k,
        threshold=row.threshold,
        task_command=list(row.task_command),
        task_pool=row.task_pool,
        task_gpus=row.task_gpus,
        task_time_limit_s=row.task_time_limit_s,
        state=row.state,
        teams=_teams(session, call_row, row),
    )


def _evaluation_view(session: Session, run: EvaluationRunRow, proposal: str) -> EvaluationView:
    state = session.scalar(select(JobRow.state).where(JobRow.id == run.job_id)) or "?"
    return EvaluationView(
        id=run.id,
        proposal=proposal,
        job_id=run.job_id,
        job_state=state,
        model=run.model,
        metrics=None if run.metrics is None else dict(run.metrics),
        problem=run.problem,
    )
