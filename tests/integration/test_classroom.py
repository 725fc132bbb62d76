"""Classroom programmes: a course for a term, students in bulk from a CSV with a per-student cap
carved out of the course award, and accounts and allocations that expire with the term."""

from datetime import timedelta

import pytest

from nuri.domain.commons import Role
from nuri.domain.errors import AdmissionRefused, Forbidden, InvalidInput
from nuri.service.auth import Actor
from tests.conftest import World


@pytest.fixture
def course(world: World) -> tuple[World, Actor]:
    view, _ = world.commons.directory.create_user(
        world.admin, name="moon", display_name="", role="manager", organisation=None
    )
    manager = Actor(view.id, "moon", Role.MANAGER)
    now = world.clock()
    world.commons.classroom.create_course(
        manager, name="ai101", title="Deep learning 101", instructor="kim", gpu_hours="3",
        cap_gpu_hours="1", pools=["h100"], starts_at=now - timedelta(hours=1),
        term_ends_at=now + timedelta(days=100),
    )  # fmt: skip
    return world, manager


def test_students_are_enrolled_in_bulk_with_a_cap_and_expire_with_the_term(course) -> None:
    world, _ = course
    classroom = world.commons.classroom
    with pytest.raises(Forbidden, match="only the instructor"):
        classroom.enrol(world.outsider, "ai101", "name,display_name\ns1,One\n")
    with pytest.raises(InvalidInput, match="line 3: user name 'Bad Name'"):
        classroom.enrol(world.pi, "ai101", "name,display_name\ns1,One\nBad Name,x\n")
    with pytest.raises(InvalidInput, match="these users already exist: lee"):
        classroom.enrol(world.pi, "ai101", "name,display_name\ns1,One\nlee,Lee\n")
    with pytest.raises(InvalidInput, match="nobody was enrolled"):
        classroom.enrol(world.pi, "ai101", "name\n" + "".join(f"s{i}\n" for i in range(4)))
    enrolled = classroom.enrol(world.pi, "ai101", "name,display_name\ns1,Student One\ns2,\n")
    assert [(e.name, e.project) for e in enrolled] == [("s1", "ai101-s1"), ("s2", "ai101-s2")]
    assert (
        classroom.show(world.admin, "ai101").unassigned_gpu_hours == 1.0
    )  # 3 awarded, 2 carved out
    student = world.commons.directory.actor_for_token(enrolled[0].token)
    assert student is not None and student.name == "s1"
    # The cap is the student's own award: a job beyond it is refused at submission.
    with pytest.raises(AdmissionRefused):
        world.commons.jobs.submit(student, project="ai101-s1", pool="h100", gpus=2,
                                  time_limit_s=3600, command=["train"])  # fmt: skip
    job = world.commons.jobs.submit(student, project="ai101-s1", pool="h100", gpus=1,
                                    time_limit_s=1800, command=["train"])  # fmt: skip
    engine = world.engine()
    engine.cycle()
    world.clock.advance(900)
    world.backend.finish(job.id)
    engine.cycle()
    usage = {s.name: s for s in classroom.students(world.pi, "ai101")}
    assert (usage["s1"].cap_gpu_hours, usage["s1"].used_gpu_hours) == (1.0, 0.25)
    assert usage["s2"].used_gpu_hours == 0.0
    with pytest.raises(Forbidden):
        world.commons.jobs.submit(student, project="ai101-s2", pool="h100", gpus=1,
                                  time_limit_s=60, command=["peek"])  # fmt: skip
    # At the end of the term the student's token no longer signs in.
    world.clock.advance(101 * 86_400)
    assert world.commons.directory.actor_for_token(enrolled[0].token) is None


def test_a_course_through_the_api(world: World) -> None:
    from fastapi.testclient import TestClient

    from nuri.api.app import create_app

    d = world.commons.directory
    d.create_user(world.admin, name="moon", display_name="", role="manager", organisation=None)
    manager, instructor = d.issue_token(world.admin, "moon"), d.issue_token(world.admin, "kim")
    now = world.clock()
    with TestClient(create_app(world.commons, run_engine=False)) as client:
        created = client.post(
            "/api/v1/courses",
            json={"name": "ai101", "instructor": "kim", "gpu_hours": "10", "cap_gpu_hours": "2",
                  "pools": ["h100"], "starts_at": now.isoformat(),
                  "term_ends_at": (now + timedelta(days=90)).isoformat()},
            headers={"Authorization": f"Bearer {manager}"},
        )  # fmt: skip
        assert created.status_code == 201, created.json()
        bad = client.post(
            "/api/v1/courses/ai101/students",
            json={"students_csv": "login\nx\n"},
            headers={"Authorization": f"Bearer {instructor}"},
        )
        assert bad.status_code == 400 and "header 'name,display_name'" in bad.json()["detail"]
        enrolled = client.post(
            "/api/v1/courses/ai101/students",
            json={"students_csv": "name,display_name\nst-a,A\nst-b,B\n"},
            headers={"Authorization": f"Bearer {instructor}"},
        )
        assert enrolled.status_code == 201
        token = enrolled.json()[0]["token"]
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert me["name"] == "st-a"
        listed = client.get(
            "/api/v1/courses/ai101/students", headers={"Authorization": f"Bearer {instructor}"}
        ).json()
        assert [(s["name"], s["cap_gpu_hours"]) for s in listed] == [("st-a", 2.0), ("st-b", 2.0)]
        assert client.get("/api/v1/courses/ai101/students",
                          headers={"Authorization": f"Bearer {token}"}).status_code == 403  # fmt: skip
