"""``nuri call|proposal|review|award|conflict|audit``: allocation programmes over the API.

The life of a call, one command per step::

    manager:  nuri call create llm-2027 --title "LLMs 2027" --opens 2027-01-01T09:00+09:00 \\
                  --closes 2027-01-31T18:00+09:00 --budget h100-ksc=5000 --budget a100-gwangju=2000 \\
                  --criterion merit=3 --criterion feasibility=2:1-10 \\
                  --award-start 2027-03-01T00:00+09:00 --award-end 2028-02-29T00:00+09:00
    PI:       nuri proposal create llm-2027 snu-llm --project snu-nlp --request h100-ksc=1200
              nuri proposal submit llm-2027 snu-llm
    manager:  nuri review assign llm-2027 snu-llm rev-cho
    reviewer: nuri review submit llm-2027 snu-llm --score merit=4 --score feasibility=8
    manager:  nuri call ranking llm-2027; nuri call award-plan llm-2027
              nuri award decide llm-2027 --override snu-llm=h100-ksc:800 --reason "..."

Options of the form ``KEY=VALUE`` are parsed here, so a mistake in one is reported as one line
saying what to write instead (``CliError``, exit status 1) before anything is sent. The rules
themselves (budgets, rubric scales, deadlines, conflicts of interest) are the server's; its
refusals arrive as one line too. ``--json`` prints the API's answer unchanged.
"""

import json
import math
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from nuri.api.v1.schemas import MAX_PAGE_SIZE
from nuri.cli.client import CliError, client_for
from nuri.cli.render import errors, print_json, print_table, when

call_app = typer.Typer(
    help="Calls for proposals: create, list, rank and plan awards (managers create them).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
proposal_app = typer.Typer(
    help="Proposals to a call: draft, submit, withdraw and list (PIs write them).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
review_app = typer.Typer(
    help="Reviews: assign reviewers (managers), score proposals (reviewers), list them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
award_app = typer.Typer(
    help="Awards: decide a closed call's awards (managers) and list them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
conflict_app = typer.Typer(
    help="Conflicts of interest (reviewers declare them).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

stage_app = typer.Typer(
    help="Stages of a staged competition: add them, see them, decide their gates (managers).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
eval_app = typer.Typer(
    help="Evaluation runs of a stage (jobs on the commons) and the stage's leaderboard.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
StageArg = Annotated[str, typer.Argument(help="Stage name.", show_default=False)]
catalog_app = typer.Typer(
    help="The catalogue of models and datasets: register, list, show, record purchases.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
KindOption = Annotated[str, typer.Option(help="model or dataset.")]
course_app = typer.Typer(
    help="Classroom programmes: a course for a term, students enrolled in bulk from a CSV.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


# Defined here rather than imported from nuri.cli.main, which imports this module.
JsonFlag = Annotated[bool, typer.Option("--json", help="Print stable JSON instead of a table.")]
JsonRecord = Annotated[
    bool, typer.Option("--json", help="Print the record the server returns as JSON.")
]
CallArg = Annotated[str, typer.Argument(help="Call name.", show_default=False)]
ProposalArg = Annotated[str, typer.Argument(help="Proposal name.", show_default=False)]

TIME_EXAMPLE = "2027-01-31T18:00+09:00"


def _say(message: str) -> None:
    """A confirmation for people on standard error, so standard output stays for data."""
    errors.print(message, markup=False, highlight=False, soft_wrap=True)


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """``print_table`` with every text cell escaped: titles, comments and reasons are free text,
    and Rich would otherwise read ``[...]`` in them as markup."""
    print_table(
        escape(title),
        columns,
        [[escape(cell) if isinstance(cell, str) else cell for cell in row] for row in rows],
    )


# -- calls --------------------------------------------------------------------------------------


@call_app.command("create")
def call_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Short unique slug, e.g. llm-2027.")],
    opens: Annotated[
        str, typer.Option(help=f"When it opens, ISO 8601 with a zone: {TIME_EXAMPLE}.")
    ],
    closes: Annotated[str, typer.Option(help="The submission deadline, ISO 8601 with a zone.")],
    budget: Annotated[
        list[str],
        typer.Option(help="POOL=HOURS: whole H100e GPU-hours the call may award (repeat)."),
    ],
    criterion: Annotated[
        list[str],
        typer.Option(
            help="NAME=WEIGHT[:LOW-HIGH]: a rubric criterion, scored LOW to HIGH, 1-5 unless"
            " given (repeat).",
        ),
    ],
    award_start: Annotated[
        str, typer.Option(help="Start of the award term, ISO 8601 with a zone.")
    ],
    award_end: Annotated[str, typer.Option(help="End of the award term, ISO 8601 with a zone.")],
    title: Annotated[str, typer.Option(help="Full title.")] = "",
    eligible: Annotated[
        list[str] | None,
        typer.Option(
            help="An organisation kind that may propose, e.g. university (repeat; default: all)."
        ),
    ] = None,
    tier: Annotated[
        str, typer.Option(help="Tier of the awards: general, hub-member, strategic.")
    ] = ("general"),
    as_json: JsonRecord = False,
) -> None:
    """Open a call for proposals (managers)."""
    body = {
        "name": name,
        "title": title,
        "opens_at": _moment(opens, "--opens"),
        "closes_at": _moment(closes, "--closes"),
        "budgets": _pool_hours(budget, "--budget", "h100-ksc=5000"),
        "rubric": [_criterion(value) for value in criterion],
        "award_starts_at": _moment(award_start, "--award-start"),
        "award_ends_at": _moment(award_end, "--award-end"),
        "eligible_kinds": eligible or [],
        "tier": tier,
    }
    created = client_for(ctx).post("/calls", body)
    if as_json:
        print_json(created)
        return
    _say(
        f"created call {created['name']} ({created['state']}); proposals close at"
        f" {when(created['closes_at'])} UTC"
    )


@call_app.command("list")
def call_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the calls, oldest first."""
    calls = client_for(ctx).get("/calls")
    if as_json:
        print_json(calls)
        return
    _table(
        "Calls",
        ["Name", "Title", "State", "Opens", "Closes", "Budgets (H100e h)", "Tier", "Proposals"],
        [
            [
                c["name"],
                c["title"],
                c["state"],
                when(c["opens_at"]),
                when(c["closes_at"]),
                _per_pool(c["budgets"]),
                c["tier"],
                c["proposals"],
            ]
            for c in calls
        ],
    )


@call_app.command("show")
def call_show(ctx: typer.Context, name: CallArg, as_json: JsonFlag = False) -> None:
    """Show one call: dates, budgets, eligibility and its rubric."""
    call = client_for(ctx).get(f"/calls/{name}")
    if as_json:
        print_json(call)
        return
    fields: list[tuple[str, Any]] = [
        ("name", call["name"]),
        ("title", call["title"]),
        ("state", call["state"]),
        ("opens", when(call["opens_at"])),
        ("closes", when(call["closes_at"])),
        ("budgets (H100e h)", _per_pool(call["budgets"])),
        ("eligible", ", ".join(call["eligible_kinds"]) or "all organisations"),
        ("tier", call["tier"]),
        ("award term", f"{when(call['award_starts_at'])} to {when(call['award_ends_at'])}"),
        ("proposals", call["proposals"]),
    ]
    _table(f"Call {call['name']}", ["Field", "Value"], fields)
    _table(
        "Rubric",
        ["Criterion", "Weight", "Scale"],
        [[c["name"], f"{c['weight']:g}", f"{c['lowest']}-{c['highest']}"] for c in call["rubric"]],
    )


@call_app.command("ranking")
def call_ranking(ctx: typer.Context, name: CallArg, as_json: JsonFlag = False) -> None:
    """Rank the reviewed proposals by normalised score (managers)."""
    ranked = client_for(ctx).get(f"/calls/{name}/ranking")
    if as_json:
        print_json(ranked)
        return
    _table(
        f"Ranking of {name}",
        ["Rank", "Proposal", "Score", "Reviews", "Requested (H100e h)"],
        [
            [r["rank"], r["proposal"], f"{r['score']:.3f}", r["reviews"], _per_pool(r["requested"])]
            for r in ranked
        ],
    )


@call_app.command("award-plan")
def call_award_plan(ctx: typer.Context, name: CallArg, as_json: JsonFlag = False) -> None:
    """The optimiser's proposed awards, not yet decided (managers)."""
    plan = client_for(ctx).get(f"/calls/{name}/award-plan")
    if as_json:
        print_json(plan)
        return
    pools = list(plan["budgets"])
    rows: list[list[Any]] = []
    for proposal, weight in plan["weights"].items():
        granted = plan["granted"].get(proposal, {})
        rows.append(
            [
                proposal,
                f"{weight:.3f}",
                *(f"{granted.get(pool, 0):,}" for pool in pools),
                f"{sum(granted.values()):,}",
            ]
        )
    if rows:
        used = {pool: sum(g.get(pool, 0) for g in plan["granted"].values()) for pool in pools}
        rows.append(
            [
                "of the budget",
                "",
                *(f"{used[pool]:,}/{plan['budgets'][pool]:,}" for pool in pools),
                f"{sum(used.values()):,}/{sum(plan['budgets'].values()):,}",
            ]
        )
    optimal = "optimal" if plan["optimal"] else "NOT proven optimal"
    _table(
        f"Award plan for {plan['call']} ({optimal}; H100e GPU-hours)",
        ["Proposal", "Weight", *pools, "Total"],
        rows,
    )


# -- proposals ----------------------------------------------------------------------------------


@proposal_app.command("create")
def proposal_create(
    ctx: typer.Context,
    call: CallArg,
    name: Annotated[str, typer.Argument(help="Slug, unique within the call.")],
    project: Annotated[str, typer.Option(help="Your project the award will fund.")],
    request: Annotated[
        list[str],
        typer.Option(help="POOL=HOURS: whole H100e GPU-hours asked for on a pool (repeat)."),
    ],
    minimum: Annotated[
        str, typer.Option(help="Least total GPU-hours that keeps the work viable.")
    ] = "0",
    title: Annotated[str, typer.Option(help="Full title.")] = "",
    abstract: Annotated[str | None, typer.Option(help="The abstract, as text.")] = None,
    abstract_file: Annotated[
        Path | None, typer.Option(help="Read the abstract from this file ('-': standard input).")
    ] = None,
    team: Annotated[list[str] | None, typer.Option(help="A user on the team (repeat).")] = None,
    data_plan: Annotated[str, typer.Option(help="What data, from where, under which terms.")] = "",
    model_plan: Annotated[str, typer.Option(help="What models will be trained or released.")] = "",
    as_json: JsonRecord = False,
) -> None:
    """Draft a proposal for one of your projects (PIs); submit it with 'nuri proposal submit'."""
    if abstract is not None and abstract_file is not None:
        raise CliError("give the abstract with --abstract or --abstract-file, not both")
    body = {
        "name": name,
        "title": title,
        "abstract": _read(abstract_file) if abstract_file is not None else abstract or "",
        "project": project,
        "requested": _pool_hours(request, "--request", "h100-ksc=1200"),
        "minimum_hours": _whole(minimum, "--minimum", minimum, "--minimum 500"),
        "team": team or [],
        "data_plan": data_plan,
        "model_plan": model_plan,
    }
    created = client_for(ctx).post(f"/calls/{call}/proposals", body)
    if as_json:
        print_json(created)
        return
    _say(
        f"drafted proposal {created['name']} to call {created['call']} for {created['project']}"
        f" ({sum(created['requested'].values()):,} H100e GPU-hours); submit it with:"
        f" nuri proposal submit {created['call']} {created['name']}"
    )


@proposal_app.command("update")
def proposal_update(
    ctx: typer.Context,
    call: CallArg,
    name: ProposalArg,
    request: Annotated[
        list[str] | None,
        typer.Option(help="POOL=HOURS (repeat); replaces the whole request when given."),
    ] = None,
    minimum: Annotated[str | None, typer.Option(help="Least viable total GPU-hours.")] = None,
    title: Annotated[str | None, typer.Option(help="Full title.")] = None,
    abstract_file: Annotated[
        Path | None, typer.Option(help="Read the abstract from this file ('-': standard input).")
    ] = None,
    team: Annotated[list[str] | None, typer.Option(help="The team, replaced (repeat).")] = None,
    data_plan: Annotated[str | None, typer.Option(help="The data plan.")] = None,
    model_plan: Annotated[str | None, typer.Option(help="The model plan.")] = None,
    as_json: JsonRecord = False,
) -> None:
    """Change your draft before the deadline; what you leave out stays as it is."""
    body: dict[str, Any] = {}
    if request:
        body["requested"] = _pool_hours(request, "--request", "h100-ksc=1200")
    if minimum is not None:
        body["minimum_hours"] = _whole(minimum, "--minimum", minimum, "--minimum 500")
    if abstract_file is not None:
        body["abstract"] = _read(abstract_file)
    for key, value in (
        ("title", title),
        ("team", team),
        ("data_plan", data_plan),
        ("model_plan", model_plan),
    ):
        if value is not None:
            body[key] = value
    if not body:
        raise CliError("say what to change, e.g. --title or --request h100-ksc=1200")
    changed = client_for(ctx).patch(f"/calls/{call}/proposals/{name}", body)
    if as_json:
        print_json(changed)
        return
    _say(f"updated draft {changed['name']} of call {changed['call']}")


@proposal_app.command("submit")
def proposal_submit(
    ctx: typer.Context, call: CallArg, name: ProposalArg, as_json: JsonRecord = False
) -> None:
    """Submit a draft proposal (by the call's deadline)."""
    proposal = client_for(ctx).post(f"/calls/{call}/proposals/{name}/submit")
    if as_json:
        print_json(proposal)
        return
    _say(
        f"submitted proposal {proposal['name']} to call {proposal['call']}"
        f" at {when(proposal['submitted_at'])} UTC"
    )


@proposal_app.command("withdraw")
def proposal_withdraw(
    ctx: typer.Context, call: CallArg, name: ProposalArg, as_json: JsonRecord = False
) -> None:
    """Withdraw a draft or submitted proposal."""
    proposal = client_for(ctx).post(f"/calls/{call}/proposals/{name}/withdraw")
    if as_json:
        print_json(proposal)
        return
    _say(f"withdrew proposal {proposal['name']} from call {proposal['call']}")


@proposal_app.command("list")
def proposal_list(ctx: typer.Context, call: CallArg, as_json: JsonFlag = False) -> None:
    """List a call's proposals you may see (managers: all; reviewers: assigned; PIs: theirs)."""
    proposals = client_for(ctx).get(f"/calls/{call}/proposals")
    if as_json:
        print_json(proposals)
        return
    _table(
        f"Proposals to {call}",
        [
            "Name",
            "Title",
            "Project",
            "PI",
            "State",
            "Requested (H100e h)",
            "Minimum",
            "Reviews",
            "Submitted",
        ],
        [
            [
                p["name"],
                p["title"],
                p["project"],
                p["pi"],
                p["state"],
                _per_pool(p["requested"]),
                f"{p['minimum_hours']:,}",
                f"{p['reviews_submitted']}/{p['reviews_assigned']}",
                when(p["submitted_at"]),
            ]
            for p in proposals
        ],
    )


# -- reviews ------------------------------------------------------------------------------------


@review_app.command("assign")
def review_assign(
    ctx: typer.Context,
    call: CallArg,
    proposal: ProposalArg,
    reviewer: Annotated[str, typer.Argument(help="User name of a reviewer.", show_default=False)],
    as_json: JsonRecord = False,
) -> None:
    """Assign a reviewer to a submitted proposal (managers; refused on a conflict of interest)."""
    review = client_for(ctx).post(
        f"/calls/{call}/proposals/{proposal}/reviewers", {"reviewer": reviewer}
    )
    if as_json:
        print_json(review)
        return
    _say(f"assigned {review['reviewer']} to review {review['proposal']} in call {review['call']}")


@review_app.command("submit")
def review_submit(
    ctx: typer.Context,
    call: CallArg,
    proposal: ProposalArg,
    score: Annotated[
        list[str],
        typer.Option(help="CRITERION=N: a whole-number score on the criterion's scale (repeat)."),
    ],
    comment: Annotated[str, typer.Option(help="Your comments for the panel.")] = "",
    as_json: JsonRecord = False,
) -> None:
    """Score a proposal assigned to you (reviewers); submitting again replaces your review."""
    scores = {
        criterion: _whole(value, "--score", f"{criterion}={value}", "--score merit=4")
        for criterion, value in _assignments(
            score, "--score", "CRITERION=N", "--score merit=4"
        ).items()
    }
    review = client_for(ctx).put(
        f"/calls/{call}/proposals/{proposal}/review", {"scores": scores, "comment": comment}
    )
    if as_json:
        print_json(review)
        return
    _say(
        f"reviewed {review['proposal']} in call {review['call']}: weighted total {review['total']:.2f} of 1"
    )


@review_app.command("list")
def review_list(ctx: typer.Context, call: CallArg, as_json: JsonFlag = False) -> None:
    """List a call's reviews (managers: all; reviewers: their own)."""
    reviews = client_for(ctx).get(f"/calls/{call}/reviews")
    if as_json:
        print_json(reviews)
        return
    _table(
        f"Reviews in {call}",
        ["Proposal", "Reviewer", "Scores", "Total", "Submitted", "Comment"],
        [
            [
                r["proposal"],
                r["reviewer"],
                ", ".join(f"{k}={v}" for k, v in (r["scores"] or {}).items()) or "not yet",
                "" if r["total"] is None else f"{r['total']:.2f}",
                when(r["submitted_at"]),
                r["comment"],
            ]
            for r in reviews
        ],
    )


@conflict_app.command("declare")
def conflict_declare(
    ctx: typer.Context,
    subject: Annotated[
        str,
        typer.Argument(help="A proposal, person or organisation name.", show_default=False),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Declare a conflict of interest; lists every subject you have declared."""
    declared = client_for(ctx).post("/conflicts", {"subject": subject})
    if as_json:
        print_json(declared)
        return
    _say(f"declared; your conflicts of interest: {', '.join(declared)}")


# -- awards -------------------------------------------------------------------------------------


@award_app.command("decide")
def award_decide(
    ctx: typer.Context,
    call: CallArg,
    override: Annotated[
        list[str] | None,
        typer.Option(
            help="PROPOSAL=POOL:HOURS[,POOL:HOURS]: award this instead of the plan; POOL:0 awards"
            " nothing (repeat).",
        ),
    ] = None,
    reason: Annotated[
        list[str] | None,
        typer.Option(
            help="Why, for the audit log: one for every --override, or one per --override in"
            " the same order.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Decide a closed call's awards from the plan, with any overrides (managers; final)."""
    body = {"overrides": _overrides(override or [], reason or [])}
    decided = client_for(ctx).post(f"/calls/{call}/awards", body)
    if as_json:
        print_json(decided)
        return
    _awards_table(call, decided)


@award_app.command("list")
def award_list(ctx: typer.Context, call: CallArg, as_json: JsonFlag = False) -> None:
    """List a call's decided awards."""
    decided = client_for(ctx).get(f"/calls/{call}/awards")
    if as_json:
        print_json(decided)
        return
    _awards_table(call, decided)


def _awards_table(call: str, decided: Sequence[dict[str, Any]]) -> None:
    _table(
        f"Awards of {call}",
        ["Proposal", "Granted (H100e h)", "Total", "Source", "Score", "Allocation", "Reason"],
        [
            [
                a["proposal"],
                _per_pool(a["granted"]) or "nothing",
                f"{sum(a['granted'].values()):,}",
                a["source"],
                "" if a["score"] is None else f"{a['score']:.3f}",
                a["allocation_id"],
                a["reason"],
            ]
            for a in decided
        ],
    )


# -- audit --------------------------------------------------------------------------------------


def audit(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option(min=1, max=MAX_PAGE_SIZE, help="At most this many entries, newest first.")
    ] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Read the programmes' audit log: assignments, awards, overrides (managers and admins)."""
    entries = client_for(ctx).get("/audit", limit=limit)
    if as_json:
        print_json(entries)
        return
    _table(
        "Audit log",
        ["At", "Actor", "Action", "Subject", "Detail"],
        [
            [
                when(e["at"]),
                e["actor"],
                e["action"],
                e["subject"],
                json.dumps(e["detail"], ensure_ascii=False, sort_keys=True),
            ]
            for e in entries
        ],
    )


# -- parsing options ----------------------------------------------------------------------------


def _assignments(values: Sequence[str], option: str, shape: str, example: str) -> dict[str, str]:
    """``KEY=VALUE`` options as a mapping, keeping their order."""
    found: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        key, rest = key.strip(), rest.strip()
        if not sep or not key or not rest:
            raise CliError(f"{option} {value!r} is not {shape}; write e.g. {example}")
        if key in found:
            raise CliError(f"{option} gives {key} twice; give each once")
        found[key] = rest
    return found


def _whole(text: str, option: str, given: str, example: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise CliError(
            f"{option} {given!r}: {text!r} is not a whole number of GPU-hours or points;"
            f" write e.g. {example}"
        ) from None


def _pool_hours(values: Sequence[str], option: str, example: str) -> dict[str, int]:
    return {
        pool: _whole(hours, option, f"{pool}={hours}", f"{option} {example}")
        for pool, hours in _assignments(values, option, "POOL=HOURS", f"{option} {example}").items()
    }


def _criterion(value: str) -> dict[str, Any]:
    example = "--criterion merit=3 or --criterion feasibility=2:1-10"
    name, weight_text = next(
        iter(_assignments([value], "--criterion", "NAME=WEIGHT[:LOW-HIGH]", example).items())
    )
    weight_text, sep, scale = weight_text.partition(":")
    try:
        weight = float(weight_text)
    except ValueError:
        weight = math.nan
    if not (math.isfinite(weight) and weight > 0):
        raise CliError(
            f"--criterion {value!r}: the weight {weight_text!r} must be a number above zero;"
            f" write e.g. {example}"
        )
    criterion: dict[str, Any] = {"name": name, "weight": weight}
    if sep:
        lowest, dash, highest = scale.partition("-")
        try:
            criterion["lowest"], criterion["highest"] = int(lowest), int(highest)
        except ValueError:
            dash = ""
        if not dash:
            raise CliError(
                f"--criterion {value!r}: the scale {scale!r} is not LOW-HIGH in whole numbers;"
                f" write e.g. {example}"
            )
    return criterion


def _moment(text: str, option: str) -> str:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(
            f"{option} {text!r} is not an ISO 8601 time; write e.g. {option} {TIME_EXAMPLE}"
        ) from None
    # Deadlines are legal facts; guessing a zone could move one by nine hours.
    if moment.tzinfo is None:
        raise CliError(
            f"{option} {text!r} has no time zone; write e.g. {option} {moment.isoformat()}+09:00"
            f" or {option} {moment.isoformat()}Z"
        )
    return moment.isoformat()


def _overrides(overrides: Sequence[str], reasons: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``PROPOSAL=POOL:HOURS[,POOL:HOURS]`` options, each paired with its reason."""
    example = "--override snu-llm=h100-ksc:800,a100-gwangju:0 --reason 'budget shared with X'"
    if not overrides:
        if reasons:
            raise CliError(f"--reason explains an --override; write e.g. {example}")
        return {}
    if len(reasons) == 1:
        reasons = list(reasons) * len(overrides)
    elif len(reasons) != len(overrides):
        raise CliError(
            f"{len(overrides)} --override and {len(reasons)} --reason: give one --reason for all"
            " or one per --override, in the same order"
        )
    parsed = _assignments(overrides, "--override", "PROPOSAL=POOL:HOURS[,POOL:HOURS]", example)
    result: dict[str, dict[str, Any]] = {}
    for (proposal, grants), why in zip(parsed.items(), reasons, strict=True):
        if not why.strip():
            raise CliError(f"the --reason for overriding {proposal} is empty; say why")
        granted: dict[str, int] = {}
        for part in grants.split(","):
            pool, sep, hours = (piece.strip() for piece in part.partition(":"))
            if not sep or not pool or not hours:
                raise CliError(
                    f"--override {proposal}={grants!r}: {part!r} is not POOL:HOURS; write e.g."
                    f" {example}"
                )
            if pool in granted:
                raise CliError(f"--override {proposal} gives {pool} twice; give each pool once")
            granted[pool] = _whole(hours, "--override", f"{proposal}={grants}", example)
        result[proposal] = {"granted": granted, "reason": why}
    return result


def _read(path: Path, option: str = "--abstract-file") -> str:
    try:
        return sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"cannot read {option} {path}: {error}") from None


def _per_pool(hours_by_pool: dict[str, int]) -> str:
    return ", ".join(f"{pool} {hours:,}" for pool, hours in hours_by_pool.items())


# -- staged competitions ------------------------------------------------------------------------


@stage_app.command("add")
def stage_add(
    ctx: typer.Context,
    call: CallArg,
    name: StageArg,
    ends: Annotated[str, typer.Option("--ends", help=f"When it ends, e.g. {TIME_EXAMPLE}.")],
    metric: Annotated[str, typer.Option(help="The metric that ranks teams, e.g. accuracy.")],
    pool: Annotated[str, typer.Option(help="Pool the evaluation jobs run on.")],
    command: Annotated[
        list[str], typer.Argument(help="Evaluation command after '--'; the model is appended.")
    ],
    top_k: Annotated[int | None, typer.Option("--top-k", min=1, help="Teams that advance.")] = None,
    threshold: Annotated[
        float | None, typer.Option(help="Or: the metric value a team must reach.")
    ] = None,
    lower_is_better: Annotated[
        bool, typer.Option("--lower-is-better", help="The metric is a loss or an error.")
    ] = False,
    gpus: Annotated[int, typer.Option(min=1, help="Devices per evaluation job.")] = 1,
    time_limit_s: Annotated[
        int, typer.Option("--time-limit-s", min=60, help="Time limit of an evaluation job.")
    ] = 3600,
    as_json: JsonRecord = False,
) -> None:
    """Add the next stage of a decided call, with its evaluation task and gate rule."""
    if top_k is None and threshold is None:
        raise CliError("a stage's gate needs --top-k N, --threshold X, or both")
    stage = client_for(ctx).post(
        f"/calls/{call}/stages",
        {
            "name": name,
            "ends_at": _moment(ends, "--ends"),
            "metric": metric,
            "higher_is_better": not lower_is_better,
            "top_k": top_k,
            "threshold": threshold,
            "task_command": command,
            "task_pool": pool,
            "task_gpus": gpus,
            "task_time_limit_s": time_limit_s,
        },
    )
    if as_json:
        print_json(stage)
        return
    _say(f"added stage {stage['number']} ({stage['name']}) of call {stage['call']}")


@stage_app.command("list")
def stage_list(ctx: typer.Context, call: CallArg, as_json: JsonFlag = False) -> None:
    """The stages of a call and the teams competing in each."""
    stages = client_for(ctx).get(f"/calls/{call}/stages")
    if as_json:
        print_json(stages)
        return
    _table(
        f"Stages of {call}",
        ["#", "Stage", "Ends", "Metric", "Gate", "State", "Teams"],
        [
            [
                s["number"],
                s["name"],
                when(s["ends_at"]),
                s["metric"] + (" (higher)" if s["higher_is_better"] else " (lower)"),
                _gate_rule(s),
                s["state"],
                ", ".join(s["teams"]),
            ]
            for s in stages
        ],
    )


@stage_app.command("gate")
def stage_gate(
    ctx: typer.Context, call: CallArg, stage: StageArg, as_json: JsonRecord = False
) -> None:
    """Decide a stage: the best teams continue (allocations extended), the others stop."""
    decision = client_for(ctx).post(f"/calls/{call}/stages/{stage}/gate")
    if as_json:
        print_json(decision)
        return
    _say(
        f"{stage}: {', '.join(decision['advance']) or 'nobody'} continue;"
        f" {', '.join(decision['stop']) or 'nobody'} stop ({decision['rule']})"
    )


@eval_app.command("submit")
def eval_submit(
    ctx: typer.Context,
    call: CallArg,
    stage: StageArg,
    proposal: ProposalArg,
    model: Annotated[str, typer.Option(help="The model to evaluate, e.g. snu-ko-7b@1.2.")],
    as_json: JsonRecord = False,
) -> None:
    """Run the stage's evaluation on your team's model (a job charged to your project)."""
    run = client_for(ctx).post(
        f"/calls/{call}/stages/{stage}/evaluations", {"proposal": proposal, "model": model}
    )
    if as_json:
        print_json(run)
        return
    _say(f"evaluation {run['id']} of {run['proposal']} runs as job {run['job_id']}")


@eval_app.command("list")
def eval_list(
    ctx: typer.Context, call: CallArg, stage: StageArg, as_json: JsonFlag = False
) -> None:
    """A stage's evaluation runs with their jobs and metrics."""
    runs = client_for(ctx).get(f"/calls/{call}/stages/{stage}/evaluations")
    if as_json:
        print_json(runs)
        return
    _table(
        f"Evaluations of {call}/{stage}",
        ["ID", "Team", "Model", "Job", "State", "Metrics"],
        [
            [
                r["id"],
                r["proposal"],
                r["model"],
                r["job_id"],
                r["job_state"],
                r["problem"] or json.dumps(r["metrics"]) if r["metrics"] or r["problem"] else "",
            ]
            for r in runs
        ],
    )


@eval_app.command("leaderboard")
def eval_leaderboard(
    ctx: typer.Context, call: CallArg, stage: StageArg, as_json: JsonFlag = False
) -> None:
    """The stage's teams ranked by their best evaluation."""
    board = client_for(ctx).get(f"/calls/{call}/stages/{stage}/leaderboard")
    if as_json:
        print_json(board)
        return
    _table(
        f"Leaderboard of {call}/{stage}",
        ["Rank", "Team", "Best"],
        [
            [row["rank"], row["proposal"], "-" if row["value"] is None else row["value"]]
            for row in board
        ],
    )


def _gate_rule(stage: dict[str, Any]) -> str:
    parts = []
    if stage["threshold"] is not None:
        parts.append(f"{'>=' if stage['higher_is_better'] else '<='} {stage['threshold']:g}")
    if stage["top_k"] is not None:
        parts.append(f"top {stage['top_k']}")
    return " and ".join(parts)


# -- catalogue ----------------------------------------------------------------------------------


@catalog_app.command("add")
def catalog_add(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="NAME@VERSION, e.g. snu-ko-7b@1.0.")],
    project: Annotated[str, typer.Option(help="Your team's project that owns it.")],
    licence: Annotated[str, typer.Option(help="SPDX id, e.g. CC-BY-4.0, Apache-2.0.")],
    provenance: Annotated[str, typer.Option(help="Base model, data sources, training run.")],
    uri: Annotated[str, typer.Option(help="Where the artefact is.")],
    kind: KindOption = "model",
    visibility: Annotated[str, typer.Option(help="public, programme or project.")] = "project",
    tier: Annotated[str, typer.Option(help="open (to everyone) or premium (kept).")] = "premium",
    call: Annotated[str | None, typer.Option(help="For programme visibility.")] = None,
    as_json: JsonRecord = False,
) -> None:
    """Register a version of your team's model or dataset."""
    name, at, version = reference.partition("@")
    if not at or not name or not version:
        raise CliError(f"write the entry as NAME@VERSION, e.g. {name or 'snu-ko-7b'}@1.0")
    entry = client_for(ctx).post(
        "/catalogue",
        {
            "kind": kind, "name": name, "version": version, "project": project,
            "licence": licence, "provenance": provenance, "uri": uri,
            "visibility": visibility, "tier": tier, "call": call,
        },
    )  # fmt: skip
    if as_json:
        print_json(entry)
        return
    _say(f"registered {entry['kind']} {entry['reference']} ({entry['licence']}, {entry['tier']})")


@catalog_app.command("list")
def catalog_list(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option(help="model or dataset.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The entries you may see."""
    entries = client_for(ctx).get("/catalogue", kind=kind)
    if as_json:
        print_json(entries)
        return
    _table(
        "Catalogue",
        ["Kind", "Entry", "Team", "Licence", "Tier", "Visibility", "Purchases"],
        [
            [e["kind"], e["reference"], e["project"], e["licence"], e["tier"], e["visibility"],
             f"₩{e['purchases_krw']:,}"]
            for e in entries
        ],
    )  # fmt: skip


@catalog_app.command("show")
def catalog_show(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="NAME@VERSION.")],
    kind: KindOption = "model",
) -> None:
    """One entry, as JSON."""
    print_json(client_for(ctx).get(f"/catalogue/{kind}/{reference}"))


@catalog_app.command("purchase")
def catalog_purchase(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="NAME@VERSION of a premium entry.")],
    buyer: Annotated[str, typer.Option(help="The public agency (organisation name).")],
    krw: Annotated[int, typer.Option(min=1, help="Whole won.")],
    contract: Annotated[str, typer.Option(help="The purchase's unique reference.")],
    purpose: Annotated[str, typer.Option(help="What it is used for.")] = "",
    kind: KindOption = "model",
    as_json: JsonRecord = False,
) -> None:
    """Record a public agency's use of a premium entry (managers; once per contract)."""
    purchase = client_for(ctx).post(
        f"/catalogue/{kind}/{reference}/purchases",
        {"buyer": buyer, "krw": krw, "contract": contract, "purpose": purpose},
    )
    if as_json:
        print_json(purchase)
        return
    _say(f"recorded {purchase['buyer']}'s purchase of {purchase['entry']}: ₩{purchase['krw']:,}")


@catalog_app.command("purchases")
def catalog_purchases(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Purchases of catalogue entries (all for managers; your teams' otherwise)."""
    purchases = client_for(ctx).get("/catalogue/purchases")
    if as_json:
        print_json(purchases)
        return
    _table(
        "Purchases",
        ["Entry", "Buyer", "Won", "Reference", "Purpose"],
        [
            [p["entry"], p["buyer"], f"₩{p['krw']:,}", p["reference"], p["purpose"]]
            for p in purchases
        ],
    )


# -- classroom ----------------------------------------------------------------------------------


@course_app.command("create")
def course_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Course name, e.g. ai101-2027s.")],
    instructor: Annotated[str, typer.Option(help="The instructor's user name.")],
    gpu_hours: Annotated[str, typer.Option("--gpu-hours", help="The course award.")],
    cap: Annotated[str, typer.Option(help="Each student's own GPU-hours.")],
    pool: Annotated[list[str], typer.Option(help="A pool students may use (repeatable).")],
    starts: Annotated[str, typer.Option(help=f"Term start, e.g. {TIME_EXAMPLE}.")],
    ends: Annotated[str, typer.Option(help="Term end: students' accounts and awards end.")],
    title: Annotated[str, typer.Option(help="The course title.")] = "",
    as_json: JsonRecord = False,
) -> None:
    """Create a course (managers): the instructor's course project and its term award."""
    course = client_for(ctx).post(
        "/courses",
        {
            "name": name, "title": title, "instructor": instructor, "gpu_hours": gpu_hours,
            "cap_gpu_hours": cap, "pools": pool, "starts_at": _moment(starts, "--starts"),
            "term_ends_at": _moment(ends, "--ends"),
        },
    )  # fmt: skip
    if as_json:
        print_json(course)
        return
    _say(
        f"created course {course['name']} for {course['instructor']} until {course['term_ends_at']}"
    )


@course_app.command("enrol")
def course_enrol(
    ctx: typer.Context,
    course: Annotated[str, typer.Argument(help="Course name.")],
    csv_file: Annotated[Path, typer.Option("--csv", help="CSV with the header name,display_name.")],
) -> None:
    """Enrol the students of a CSV (all or none); prints their tokens as JSON, once."""
    enrolled = client_for(ctx).post(
        f"/courses/{course}/students", {"students_csv": _read(csv_file, "--csv")}
    )
    print_json(enrolled)
    _say(f"enrolled {len(enrolled)} students in {course}; hand each their token")


@course_app.command("students")
def course_students(
    ctx: typer.Context,
    course: Annotated[str, typer.Argument(help="Course name.")],
    as_json: JsonFlag = False,
) -> None:
    """Each student's cap and use (the instructor and managers)."""
    rows = client_for(ctx).get(f"/courses/{course}/students")
    if as_json:
        print_json(rows)
        return
    _table(
        f"Students of {course} (H100e GPU-hours)",
        ["Student", "Project", "Cap", "Used"],
        [[r["name"], r["project"], r["cap_gpu_hours"], r["used_gpu_hours"]] for r in rows],
    )
