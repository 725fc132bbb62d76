"""Classroom programmes: a course allocation for a term, students enrolled in bulk from a CSV.

A manager creates a course: a project led by the instructor with an allocation for the term.
The instructor (or a manager) enrols students from a CSV (``name,display_name``): each student
gets an account (member of the course's organisation) whose token expires at the end of the
term, and a project of their own, ``<course>-<student>``, with an allocation of the per-student
cap carved out of the course allocation, ending with the term. The course allocation is reduced
by each cap, so the course can never spend more than it was awarded, and a student can never
spend more than the cap. Enrolment is all or nothing: one bad row refuses the whole file, with
every problem listed.
"""

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from nuri.domain.commons import Role, Tier, check_name
from nuri.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from nuri.domain.ledger import Balance
from nuri.domain.units import parse_gpu_hours, units_to_gpu_hours
from nuri.engine.clock import Clock
from nuri.service.access import can_see_project
from nuri.service.audit import audit_entry
from nuri.service.auth import Actor
from nuri.service.directory import add_token
from nuri.service.programmes import require_role
from nuri.store import repository
from nuri.store.tables import (
    AllocationPoolRow,
    AllocationRow,
    CourseRow,
    CourseStudentRow,
    OrganisationRow,
    PoolRow,
    ProjectMemberRow,
    ProjectRow,
    UserRow,
)

MAX_STUDENTS_PER_FILE = 2000


@dataclass(frozen=True, slots=True)
class CourseView:
    name: str
    instructor: str
    organisation: str
    term_ends_at: datetime
    cap_gpu_hours: float
    unassigned_gpu_hours: float
    """What is left of the course allocation after the students' caps were carved out."""
    students: int


@dataclass(frozen=True, slots=True)
class EnrolledStudent:
    name: str
    project: str
    token: str
    """Shown once; it expires at the end of the term."""


@dataclass(frozen=True, slots=True)
class StudentUsage:
    name: str
    project: str
    cap_gpu_hours: float
    used_gpu_hours: float


class Classroom:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def create_course(
        self,
        actor: Actor,
        *,
        name: str,
        title: str,
        instructor: str,
        gpu_hours: str,
        cap_gpu_hours: str,
        pools: list[str],
        starts_at: datetime,
        term_ends_at: datetime,
    ) -> CourseView:
        require_role(actor, "create courses", Role.MANAGER)
        check_name("course", name)
        if len(name) > 40:
            raise InvalidInput(
                "a course name has at most 40 characters (students' projects add theirs)"
            )
        awarded, cap = parse_gpu_hours(gpu_hours), parse_gpu_hours(cap_gpu_hours)
        if cap <= 0 or cap > awarded:
            raise InvalidInput("the per-student cap must be above zero and within the course award")
        if starts_at.tzinfo is None or term_ends_at.tzinfo is None or term_ends_at <= starts_at:
            raise InvalidInput("a term needs zoned start and end moments, the end after the start")
        if not pools:
            raise InvalidInput("a course needs at least one pool")
        with self._sessions.begin() as session:
            teacher = repository.named(session, UserRow, "user", instructor)
            if teacher.organisation_id is None:
                raise InvalidInput(f"{instructor} belongs to no organisation; a course needs one")
            if session.scalar(select(ProjectRow.id).where(ProjectRow.name == name)) is not None:
                raise Conflict(f"a project named {name!r} already exists")
            project = ProjectRow(
                name=name,
                title=title,
                field="other",
                organisation_id=teacher.organisation_id,
                pi_user_id=teacher.id,
            )
            session.add(project)
            session.flush()
            allocation = _allocation(
                session, project.id, awarded, starts_at, term_ends_at, pools, f"course {name}"
            )
            course = CourseRow(
                name=name,
                project_id=project.id,
                allocation_id=allocation.id,
                cap_units=cap,
                term_ends_at=term_ends_at,
            )
            session.add(course)
            audit_entry(
                session,
                self._clock(),
                actor,
                "course.create",
                f"course {name}",
                {"gpu_hours": gpu_hours, "cap": cap_gpu_hours},
            )
            session.flush()
            return _course_view(session, course)

    def enrol(self, actor: Actor, course: str, students_csv: str) -> list[EnrolledStudent]:
        """Enrol every student of the CSV (``name,display_name``), or none (see module doc)."""
        rows = _parse_students(students_csv)
        now = self._clock()
        with self._sessions.begin() as session:
            course_row, project = self._course(session, course)
            if actor.role not in (Role.ADMIN, Role.MANAGER) and actor.user_id != project.pi_user_id:
                raise Forbidden(f"only the instructor of {course} or a manager may enrol students")
            if now >= course_row.term_ends_at:
                raise Conflict(f"the term of {course} has ended")
            taken = set(
                session.scalars(
                    select(UserRow.name).where(UserRow.name.in_([name for name, _ in rows]))
                )
            )
            long_names = [name for name, _ in rows if len(f"{course}-{name}") > 63]
            problems = []
            if taken:
                problems.append(f"these users already exist: {', '.join(sorted(taken))}")
            if long_names:
                problems.append(
                    f"these names make project names over 63 characters: {', '.join(long_names)}"
                )
            if problems:
                raise InvalidInput("; ".join(problems) + "; nobody was enrolled")
            course_allocation = session.get(
                AllocationRow, course_row.allocation_id, with_for_update=True
            )
            assert course_allocation is not None
            needed = course_row.cap_units * len(rows)
            # What new commitments may take: awarded less charged less held by active jobs.
            spare = _balance(session, course_allocation).remaining_units
            if needed > spare:
                raise InvalidInput(
                    f"{len(rows)} students at {units_to_gpu_hours(course_row.cap_units)} GPU-hours"
                    f" need {units_to_gpu_hours(needed)}; the course has"
                    f" {units_to_gpu_hours(spare)} left; nobody was enrolled"
                )
            course_allocation.awarded_units -= needed
            pools = list(
                session.scalars(
                    select(PoolRow.name)
                    .join(AllocationPoolRow, AllocationPoolRow.pool_id == PoolRow.id)
                    .where(AllocationPoolRow.allocation_id == course_allocation.id)
                )
            )
            enrolled = []
            for name, display_name in rows:
                user = UserRow(
                    name=name,
                    display_name=display_name or name,
                    role=Role.MEMBER.value,
                    organisation_id=project.organisation_id,
                )
                session.add(user)
                session.flush()
                own = ProjectRow(
                    name=f"{course}-{name}",
                    title=f"{name} in {course}",
                    field=project.field,
                    organisation_id=project.organisation_id,
                    pi_user_id=project.pi_user_id,
                )
                session.add(own)
                session.flush()
                session.add(ProjectMemberRow(project_id=own.id, user_id=user.id))
                session.add(ProjectMemberRow(project_id=project.id, user_id=user.id))
                allocation = _allocation(
                    session, own.id, course_row.cap_units, max(now, course_allocation.starts_at),
                    course_row.term_ends_at, pools, f"course {course}, student {name}",
                )  # fmt: skip
                session.add(
                    CourseStudentRow(
                        course_id=course_row.id,
                        user_id=user.id,
                        project_id=own.id,
                        allocation_id=allocation.id,
                    )
                )
                token = add_token(
                    session, user.id, f"course {course}", now, expires_at=course_row.term_ends_at
                )
                enrolled.append(EnrolledStudent(name, own.name, token))
            audit_entry(
                session,
                now,
                actor,
                "course.enrol",
                f"course {course}",
                {"students": [n for n, _ in rows]},
            )
            return enrolled

    def students(self, actor: Actor, course: str) -> list[StudentUsage]:
        with self._sessions.begin() as session:
            course_row, project = self._course(session, course)
            if actor.role not in (Role.ADMIN, Role.MANAGER) and actor.user_id != project.pi_user_id:
                raise Forbidden(
                    f"only the instructor of {course} or a manager may list its students"
                )
            rows = session.execute(
                select(UserRow.name, ProjectRow.name, AllocationRow)
                .select_from(CourseStudentRow)
                .join(UserRow, UserRow.id == CourseStudentRow.user_id)
                .join(ProjectRow, ProjectRow.id == CourseStudentRow.project_id)
                .join(AllocationRow, AllocationRow.id == CourseStudentRow.allocation_id)
                .where(CourseStudentRow.course_id == course_row.id)
                .order_by(UserRow.name)
            ).all()
            return [
                StudentUsage(
                    name,
                    project_name,
                    float(units_to_gpu_hours(allocation.awarded_units)),
                    float(units_to_gpu_hours(_balance(session, allocation).charged_units)),
                )
                for name, project_name, allocation in rows
            ]

    def show(self, actor: Actor, course: str) -> CourseView:
        """The course, for its instructor, its students, managers and admins."""
        with self._sessions.begin() as session:
            course_row, project = self._course(session, course)
            if actor.role is not Role.MANAGER and not can_see_project(session, actor, project.id):
                raise NotFound(f"no course named {course!r} that you teach or take")
            return _course_view(session, course_row)

    def _course(self, session: Session, course: str) -> tuple[CourseRow, ProjectRow]:
        row = session.scalar(select(CourseRow).where(CourseRow.name == course))
        if row is None:
            raise InvalidInput(f"no course named {course!r}")
        project = session.get(ProjectRow, row.project_id)
        assert project is not None
        return row, project


def _parse_students(text: str) -> list[tuple[str, str]]:
    reader = csv.reader(io.StringIO(text))
    lines = [line for line in reader if any(cell.strip() for cell in line)]
    if not lines or [cell.strip().lower() for cell in lines[0][:1]] != ["name"]:
        raise InvalidInput("the students CSV starts with the header 'name,display_name'")
    rows: list[tuple[str, str]] = []
    problems: list[str] = []
    for number, line in enumerate(lines[1:], start=2):
        name = line[0].strip()
        display = line[1].strip() if len(line) > 1 else ""
        try:
            check_name("user", name)
        except InvalidInput as error:
            problems.append(f"line {number}: {error.message}")
            continue
        rows.append((name, display[:200]))
    names = [name for name, _ in rows]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        problems.append(f"repeated names: {', '.join(repeated)}")
    if problems:
        raise InvalidInput("; ".join(problems))
    if not rows:
        raise InvalidInput("the students CSV lists nobody")
    if len(rows) > MAX_STUDENTS_PER_FILE:
        raise InvalidInput(f"enrol at most {MAX_STUDENTS_PER_FILE} students per file")
    return rows


def _allocation(
    session: Session,
    project_id: int,
    units: int,
    starts_at: datetime,
    ends_at: datetime,
    pools: list[str],
    note: str,
) -> AllocationRow:
    row = AllocationRow(
        project_id=project_id,
        awarded_units=units,
        starts_at=starts_at,
        ends_at=ends_at,
        tier=Tier.GENERAL.value,
        note=note,
    )
    session.add(row)
    session.flush()
    for pool in dict.fromkeys(pools):
        pool_row = repository.named(session, PoolRow, "pool", pool)
        session.add(AllocationPoolRow(allocation_id=row.id, pool_id=pool_row.id))
    return row


def _balance(session: Session, row: AllocationRow) -> Balance:
    [(_, balance)] = repository.allocation_balances(
        session, [repository.allocation_of(session, row)]
    )
    return balance


def _course_view(session: Session, row: CourseRow) -> CourseView:
    project = session.get(ProjectRow, row.project_id)
    assert project is not None
    teacher = session.get(UserRow, project.pi_user_id)
    organisation = session.get(OrganisationRow, project.organisation_id)
    allocation = session.get(AllocationRow, row.allocation_id)
    assert teacher is not None and organisation is not None and allocation is not None
    students = session.scalar(
        select(func.count())
        .select_from(CourseStudentRow)
        .where(CourseStudentRow.course_id == row.id)
    )
    return CourseView(
        name=row.name,
        instructor=teacher.name,
        organisation=organisation.name,
        term_ends_at=row.term_ends_at,
        cap_gpu_hours=float(units_to_gpu_hours(row.cap_units)),
        unassigned_gpu_hours=float(
            units_to_gpu_hours(
                allocation.awarded_units - _balance(session, allocation).charged_units
            )
        ),
        students=int(students or 0),
    )
