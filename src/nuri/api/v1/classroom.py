"""API v1 routes of classroom programmes: courses and their students."""

from datetime import datetime

from fastapi import APIRouter
from pydantic import Field

from nuri.api.v1.routes import ActorDep, CommonsDep
from nuri.api.v1.schemas import Body
from nuri.service.classroom import CourseView, EnrolledStudent, StudentUsage

router = APIRouter(tags=["classroom"])


class CourseCreate(Body):
    name: str = Field(max_length=40, description="Slug; students' projects are <name>-<student>.")
    title: str = Field(default="", max_length=200)
    instructor: str = Field(description="The instructor's user name (leads the course project).")
    gpu_hours: str = Field(max_length=20, description="The course award, H100e GPU-hours.")
    cap_gpu_hours: str = Field(max_length=20, description="Each student's own award.")
    pools: list[str] = Field(min_length=1, max_length=20)
    starts_at: datetime
    term_ends_at: datetime = Field(description="Students' accounts and awards end here.")


class Enrolment(Body):
    students_csv: str = Field(
        max_length=1_000_000, description="CSV with the header 'name,display_name'."
    )


@router.post("/courses", status_code=201)
def create_course(body: CourseCreate, commons: CommonsDep, actor: ActorDep) -> CourseView:
    return commons.classroom.create_course(actor, **body.model_dump())


@router.get("/courses/{course}")
def show_course(course: str, commons: CommonsDep, actor: ActorDep) -> CourseView:
    """The course (its instructor, students, managers and admins)."""
    return commons.classroom.show(actor, course)


@router.post("/courses/{course}/students", status_code=201)
def enrol(
    course: str, body: Enrolment, commons: CommonsDep, actor: ActorDep
) -> list[EnrolledStudent]:
    """Enrol every student of the CSV or none; their tokens are in the answer, once."""
    return commons.classroom.enrol(actor, course, body.students_csv)


@router.get("/courses/{course}/students")
def students(course: str, commons: CommonsDep, actor: ActorDep) -> list[StudentUsage]:
    return commons.classroom.students(actor, course)
