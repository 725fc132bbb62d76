"""A commons with two tenants for the authorisation tests, and a way to restore it between tests.

Two projects in two organisations, each with a PI, a member, a job, an allocation, proposals,
a registered model and an evaluation run: ``nlp`` (snu; PI kim, member lee) and ``vision``
(acme; PI park, member choi). Beside them: a programme manager (han), two reviewers (yoon,
assigned to proposals of both tenants; seo, unassigned), a public agency, a course taught by
kim with one student (s1), and a reservation. Every private record of a tenant carries its
marker (``nlp-secret`` or ``vision-secret``) so that a leak shows up as that word in an answer.

Calls: ``early`` was decided (both tenants awarded) and runs stage ``s1``; ``closed`` is past
its deadline and undecided; ``llm`` is open, with a submitted and a draft proposal per tenant.
"""

import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from nuri.domain.commons import Role
from nuri.service.auth import Actor
from nuri.service.directory import add_token
from nuri.service.sign_in_limits import SignInLimits
from tests.conftest import START, World, build_world

NLP_SECRET = "nlp-secret"
VISION_SECRET = "vision-secret"
ROLES = ("member", "pi", "manager", "reviewer", "admin", "student")
"""Signed-in roles. member and pi belong to nlp; the student takes kim's course."""
USER_OF_ROLE = {
    "member": "lee",
    "pi": "kim",
    "manager": "han",
    "reviewer": "yoon",
    "admin": "root",
    "student": "s1",
}
UNAUTHENTICATED = ("anonymous", "bad token", "expired token", "revoked token")


@dataclass
class Seeded:
    """The seeded commons and what the tests need to address its records."""

    world: World
    tokens: dict[str, str]
    """Role (or unauthenticated kind) -> bearer token; anonymous has none."""
    spare_token_ids: dict[str, int]
    """User name -> the id of a second token of theirs, to revoke."""
    job_ids: dict[str, int]
    """Project -> its job's id."""
    allocation_ids: dict[str, int]
    """Project -> its allocation's id."""
    path: Path
    golden: sqlite3.Connection

    def restore(self) -> None:
        """Put the database back as seeded (every test starts from the same commons)."""
        self.world.commons.database.dispose()
        self.world.clock.set(SEEDED_AT)
        target = sqlite3.connect(self.path)
        try:
            self.golden.backup(target)
        finally:
            target.close()


SEEDED_AT = START + timedelta(hours=2)


def seed(home: Path) -> Seeded:
    path = home / "authz.sqlite3"
    world = build_world(f"sqlite+pysqlite:///{path}", home / "home")
    commons = world.commons
    # The matrix presents many bad tokens on purpose; the limit has tests of its own.
    commons.sign_in_limits = SignInLimits(
        commons.sessions, world.clock, limit=1_000_000, window_s=300
    )
    d, admin, clock = commons.directory, world.admin, world.clock
    d.create_organisation(admin, name="nia", title="", kind="public-agency")
    choi, _ = d.create_user(admin, name="choi", display_name="", role="member", organisation="acme")
    d.add_member(admin, project="vision", user="choi")
    han_view, _ = d.create_user(
        admin, name="han", display_name="", role="manager", organisation=None
    )
    yoon_view, _ = d.create_user(
        admin, name="yoon", display_name="", role="reviewer", organisation=None
    )
    d.create_user(admin, name="seo", display_name="", role="reviewer", organisation=None)
    han = Actor(han_view.id, "han", Role.MANAGER)
    member_of = {"nlp": world.member, "vision": Actor(choi.id, "choi", Role.MEMBER)}
    pi_of = {"nlp": world.pi, "vision": world.outsider}
    yoon = Actor(yoon_view.id, "yoon", Role.REVIEWER)

    programmes = commons.programmes
    for call, closes_in in (("early", 1), ("closed", 1), ("llm", 30 * 24)):
        programmes.create_call(
            han,
            name=call,
            title="",
            opens_at=START - timedelta(days=1),
            closes_at=START + timedelta(hours=closes_in),
            budgets={"h100": 100},
            rubric=[{"name": "merit", "weight": 1.0}],
            award_starts_at=START,
            award_ends_at=START + timedelta(days=60),
        )
    for project, secret in (("nlp", NLP_SECRET), ("vision", VISION_SECRET)):
        for call, proposal, submit in (
            ("early", f"{project}-early", True),
            ("closed", f"{project}-closed", True),
            ("llm", f"{project}-prop", True),
            ("llm", f"{project}-draft", False),
        ):
            programmes.create_proposal(
                pi_of[project],
                call=call,
                name=proposal,
                title="",
                abstract=f"{secret} abstract",
                project=project,
                requested={"h100": 40},
            )
            if submit:
                programmes.submit_proposal(pi_of[project], call, proposal)
        for call, proposal in (("early", f"{project}-early"), ("closed", f"{project}-closed")):
            programmes.assign_reviewer(han, call, proposal, "yoon")
            programmes.submit_review(yoon, call, proposal, {"merit": 4})
    programmes.assign_reviewer(han, "llm", "nlp-prop", "yoon")
    programmes.assign_reviewer(han, "llm", "vision-prop", "yoon")

    clock.set(SEEDED_AT)
    programmes.decide_awards(han, "early", {})
    commons.competitions.add_stage(
        han,
        "early",
        name="s1",
        ends_at=START + timedelta(days=10),
        metric="accuracy",
        higher_is_better=True,
        top_k=1,
        threshold=None,
        task_command=["python", "eval.py"],
        task_pool="h100",
        task_gpus=1,
        task_time_limit_s=600,
    )
    job_ids, allocation_ids = {}, {}
    for project, secret in (("nlp", NLP_SECRET), ("vision", VISION_SECRET)):
        commons.catalogue.register(
            member_of[project],
            kind="model",
            name=f"{project}-model",
            version="1",
            project=project,
            licence="Apache-2.0",
            provenance=f"{secret} provenance",
            uri=f"file:///{secret}/model",
        )
        commons.competitions.submit_evaluation(
            member_of[project], "early", "s1", f"{project}-early", f"{project}-model@1"
        )
        job = commons.jobs.submit(
            member_of[project],
            project=project,
            pool="h100",
            gpus=1,
            time_limit_s=600,
            command=["python", f"{secret}.py"],
            name=f"{secret}-job",
        )
        job_ids[project] = job.id
        allocation_ids[project] = d.list_allocations(admin, project)[0].id

    commons.classroom.create_course(
        han,
        name="ai101",
        title="",
        instructor="kim",
        gpu_hours="3",
        cap_gpu_hours="1",
        pools=["h100"],
        starts_at=START - timedelta(days=1),
        term_ends_at=START + timedelta(days=60),
    )
    [student] = commons.classroom.enrol(world.pi, "ai101", "name,display_name\ns1,\n")
    d.create_reservation(
        admin,
        name="svc",
        pool="h100",
        nodes=1,
        starts_at=START,
        ends_at=START + timedelta(days=30),
    )

    tokens = {role: d.issue_token(admin, user) for role, user in USER_OF_ROLE.items()}
    tokens["student"] = student.token
    tokens["bad token"] = "nuri_" + "x" * 43
    revoked = d.issue(admin, "lee", "to revoke")
    d.revoke_token(admin, "lee", revoked.id)
    tokens["revoked token"] = revoked.token
    with commons.sessions.begin() as session:
        lee_id = world.member.user_id
        tokens["expired token"] = add_token(
            session, lee_id, "expired", START, expires_at=SEEDED_AT - timedelta(seconds=1)
        )
    spare = {user: d.issue(admin, user, "spare").id for user in (*USER_OF_ROLE.values(), "park")}
    commons.database.dispose()
    golden = sqlite3.connect(":memory:", check_same_thread=False)
    source = sqlite3.connect(path)
    try:
        source.backup(golden)
    finally:
        source.close()
    return Seeded(world, tokens, spare, job_ids, allocation_ids, path, golden)
