"""The portal in Korean and English: choosing a page's language, and the message catalogue.

A page's language is, in order: ``?lang=ko|en`` (which then sticks, through a cookie), the
cookie, the browser's ``Accept-Language``, and English (the language of the API's and the CLI's
messages). Every string a page shows comes from ``CATALOGUE``, whose entries are
``key: (English, Korean)`` pairs, so no entry can lack a language. Korean wording follows the
glossary's UI terms (과제, 작업, 할당, 자원 풀, H100 환산, ...).

Messages from the service (a refusal's reason, a domain error) are shown as the service wrote
them, in English, inside a translated page: they are the same words the API and CLI give, and
they name things (pools, projects) exactly.
"""

from typing import get_args

from nuri.domain.errors import DomainError
from nuri.web.formatting import Language

LANGUAGES: tuple[Language, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "en"
LANGUAGE_COOKIE = "nuri_lang"
LANGUAGE_COOKIE_MAX_AGE_S = 365 * 24 * 3600


def negotiate(query: str | None, cookie: str | None, accept_language: str | None) -> Language:
    """The language for a request (see the module docstring for the order)."""
    for choice in (query, cookie):
        if choice in LANGUAGES:
            return _language(choice)
    return from_accept_language(accept_language or "")


def from_accept_language(header: str) -> Language:
    """The supported language the browser prefers most (``ko-KR,ko;q=0.9,en;q=0.8`` is ``ko``);
    English when it names none of them."""
    best: tuple[float, int, Language] | None = None
    for position, part in enumerate(header.split(",")):
        tag, _, parameters = part.strip().partition(";")
        primary = tag.strip().split("-")[0].lower()
        if primary not in LANGUAGES:
            continue
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        candidate = (-quality, position, _language(primary))
        if best is None or candidate < best:
            best = candidate
    return DEFAULT_LANGUAGE if best is None else best[2]


def _language(value: str) -> Language:
    return "ko" if value == "ko" else "en"


class Translator:
    """The catalogue in one language: ``t("jobs.count", count="3")``."""

    def __init__(self, lang: Language) -> None:
        self.lang = lang
        self._index = LANGUAGES.index(lang)

    def __call__(self, key: str, /, **params: object) -> str:
        """The message ``key`` with ``{name}`` placeholders filled; an unknown key is an error
        (tests render every page, so a missing entry fails them rather than a reader)."""
        return CATALOGUE[key][self._index].format(**params)

    def maybe(self, key: str, fallback: str) -> str:
        """The message ``key`` if the catalogue has it, else ``fallback`` (for values such as a
        tier or a state that the service may grow without the portal knowing)."""
        entry = CATALOGUE.get(key)
        return fallback if entry is None else entry[self._index]


def refusal_text(t: Translator, error: DomainError) -> str:
    """A domain error's message in the page's language: its catalogue entry
    (``refusal.<key>``) where it has a key the catalogue knows, else its English message."""
    if error.key is None or f"refusal.{error.key}" not in CATALOGUE:
        return error.message
    return t(f"refusal.{error.key}", **error.params)


CATALOGUE: dict[str, tuple[str, str]] = {
    # -- the frame of every page
    "app.name": ("nuri", "누리"),
    "app.tagline": ("National AI compute commons", "국가 AI 컴퓨팅 공동활용 인프라"),
    "a11y.skip_to_content": ("Skip to main content", "본문으로 건너뛰기"),
    "account.signed_in_as": ("Signed in as {name} ({role})", "{name} ({role}) 로그인 중"),
    "account.sign_out": ("Sign out", "로그아웃"),
    "language.choose": ("Language", "언어"),
    "nav.label": ("Main", "주 메뉴"),
    "nav.jobs": ("Jobs", "작업"),
    "nav.submit": ("Submit a job", "작업 제출"),
    "nav.projects": ("Projects", "과제"),
    "nav.proposals": ("Proposals", "제안서"),
    "nav.reviews": ("My reviews", "내 평가"),
    "nav.calls": ("Calls", "공모"),
    "nav.dashboard": ("Dashboard", "현황"),
    "footer.about": (
        "nuri {version}: awards in H100e GPU-hours, every second charged to the ledger",
        "누리 {version}: H100 환산 GPU 시간으로 배정하고, 사용한 모든 초를 사용 원장에 기록합니다",
    ),
    "footer.api": ("API reference", "API 문서"),
    "live.stopped": (
        "Live updates stopped; reload the page to see the latest.",
        "자동 새로고침이 멈췄습니다. 최신 상태를 보려면 페이지를 새로고침하세요.",
    ),
    "common.none": ("none", "없음"),
    "common.period": ("{start} to {end}", "{start} ~ {end}"),
    "common.yes": ("yes", "예"),
    "common.no": ("no", "아니요"),
    "unit.gpu_hours": ("H100e GPU-hours", "H100 환산 GPU 시간"),
    # -- roles, states and other values
    "role.admin": ("operator", "운영자"),
    "role.pi": ("PI", "연구책임자"),
    "role.member": ("member", "참여연구원"),
    "role.manager": ("programme manager", "사업 관리자"),
    "role.reviewer": ("reviewer", "평가위원"),
    "state.PENDING": ("Pending", "대기 중"),
    "state.RUNNING": ("Running", "실행 중"),
    "state.COMPLETED": ("Completed", "완료"),
    "state.FAILED": ("Failed", "실패"),
    "state.CANCELLED": ("Cancelled", "취소됨"),
    "state.TIMEOUT": ("Timed out", "시간 초과"),
    "state.cancelling": ("cancelling", "취소 중"),
    "tier.strategic": ("strategic", "전략"),
    "tier.hub-member": ("hub member", "거점 참여기관"),
    "tier.general": ("general", "일반"),
    "research_field.language": ("language", "언어"),
    "research_field.vision": ("vision", "비전"),
    "research_field.speech": ("speech", "음성"),
    "research_field.multimodal": ("multimodal", "멀티모달"),
    "research_field.science": ("science", "과학"),
    "research_field.other": ("other", "기타"),
    "proposal_state.draft": ("draft", "작성 중"),
    "proposal_state.submitted": ("submitted", "제출됨"),
    "proposal_state.withdrawn": ("withdrawn", "철회됨"),
    "proposal_state.awarded": ("awarded", "선정"),
    "proposal_state.declined": ("not awarded", "미선정"),
    "call_state.open": ("open", "접수 중"),
    "call_state.decided": ("decided", "선정 완료"),
    # -- fields (column headings and labels)
    "field.id": ("ID", "번호"),
    "field.name": ("Name", "이름"),
    "field.state": ("State", "상태"),
    "field.project": ("Project", "과제"),
    "field.pool": ("Pool", "자원 풀"),
    "field.pools": ("Pools", "자원 풀"),
    "field.accelerator": ("Accelerator", "가속기"),
    "field.gpus": ("Devices (GPUs)", "장치 수 (GPU)"),
    "field.user": ("User", "사용자"),
    "field.display_name": ("Name", "이름"),
    "field.submitted": ("Submitted", "제출 시각"),
    "field.started": ("Started", "시작 시각"),
    "field.ended": ("Ended", "종료 시각"),
    "field.node": ("Node", "노드"),
    "field.exit_code": ("Exit code", "종료 코드"),
    "field.reason": ("Reason", "사유"),
    "field.used_gpu_hours": ("Used (H100e GPU-h)", "사용량 (H100 환산 GPU 시간)"),
    "field.cost": ("Cost", "비용"),
    "field.time_limit": ("Time limit", "시간 제한"),
    "field.command": ("Command", "명령"),
    "field.preemptible": ("Preemptible", "선점 허용"),
    "field.attempt": ("Attempt", "실행 차수"),
    "field.allocation": ("Allocation", "할당"),
    "field.title": ("Title", "제목"),
    "field.organisation": ("Organisation", "기관"),
    "field.field": ("Field", "분야"),
    "field.pi": ("PI", "연구책임자"),
    "field.members": ("Members", "참여연구원 수"),
    "field.tier": ("Tier", "우선순위 등급"),
    "field.period": ("Period", "기간"),
    "field.jobs": ("Jobs", "작업 수"),
    "field.device_hours": ("Device-hours", "장치 시간"),
    "field.day": ("Day", "날짜"),
    "field.proposal": ("Proposal", "제안서"),
    # -- pagination and forms
    "pagination.label": ("Pages", "페이지"),
    "pagination.previous": ("Previous page", "이전 페이지"),
    "pagination.next": ("Next page", "다음 페이지"),
    "pagination.position": ("Page {page} of {pages}", "{pages}쪽 중 {page}쪽"),
    "form.error_prefix": ("Error:", "오류:"),
    "form.problems": ("There is a problem", "입력 내용을 확인해 주세요"),
    # -- errors
    "error.csrf.title": ("This form has expired", "양식이 만료되었습니다"),
    "error.csrf.message": (
        "The form was not accepted: it is too old, or it did not come from this site. Go back,"
        " reload the page and try again.",
        "양식을 받을 수 없습니다. 너무 오래되었거나 이 사이트에서 보낸 양식이 아닙니다. 이전 페이지로"
        " 돌아가 새로고침한 뒤 다시 시도하세요.",
    ),
    "error.forbidden.title": ("Not allowed", "권한이 없습니다"),
    "error.not_found.title": ("Not found", "찾을 수 없습니다"),
    "error.conflict.title": ("That cannot be done now", "지금은 처리할 수 없습니다"),
    "error.refused.title": ("Refused", "거절되었습니다"),
    "error.bad_request.title": ("That request is not valid", "잘못된 요청입니다"),
    "error.bad_address.message": (
        "Check the address, or start again from the menu.",
        "주소를 확인하거나 메뉴에서 다시 시작하세요.",
    ),
    "error.internal.title": ("Something went wrong", "문제가 발생했습니다"),
    # -- refusals from the service, by their key (the English is the service's own message)
    "refusal.admission.unknown_pool": (
        "unknown pool '{pool}'; 'nuri pools' lists the pools",
        "'{pool}' 풀이 없습니다. 'nuri pools'로 풀 목록을 볼 수 있습니다",
    ),
    "refusal.admission.too_many_devices": (
        "pool {pool} has {most} devices per node; a job may ask for at most {most}, got {devices}",
        "{pool} 풀은 노드당 장치가 {most}개입니다. 작업은 최대 {most}개까지 요청할 수 있는데"
        " {devices}개를 요청했습니다",
    ),
    "refusal.admission.time_limit_too_long": (
        "pool {pool} allows time limits up to {longest}, got {asked}",
        "{pool} 풀의 최대 실행 시간은 {longest}인데 {asked}를 요청했습니다",
    ),
    "refusal.admission.unknown_accelerator": (
        "no pool has accelerator {accelerator}; 'nuri pools' lists them",
        "{accelerator} 가속기를 가진 풀이 없습니다. 'nuri pools'로 풀 목록을 볼 수 있습니다",
    ),
    "refusal.admission.class_too_many_devices": (
        "{accelerator} pools have at most {most} devices per node; got {devices}",
        "{accelerator} 풀은 노드당 장치가 최대 {most}개인데 {devices}개를 요청했습니다",
    ),
    "refusal.admission.class_time_limit_too_long": (
        "{accelerator} pools allow time limits up to {longest}, got {asked}",
        "{accelerator} 풀의 최대 실행 시간은 {longest}인데 {asked}를 요청했습니다",
    ),
    "refusal.admission.no_command": (
        "the job has no command; give one after '--', e.g. -- python train.py",
        "작업에 실행할 명령이 없습니다. 명령을 입력하세요 (예: python train.py)",
    ),
    "refusal.admission.no_devices": (
        "a job needs at least one device, got {devices}",
        "작업에는 장치가 한 개 이상 필요합니다 ({devices}개를 요청했습니다)",
    ),
    "refusal.admission.no_time": (
        "the time limit must be at least one second",
        "실행 시간 제한은 1초 이상이어야 합니다",
    ),
    "refusal.admission.no_allocation.pool": (
        "project {project} has no allocation active now that allows pool {name}",
        "{project} 과제에는 지금 {name} 풀을 쓸 수 있는 유효한 배정이 없습니다",
    ),
    "refusal.admission.no_allocation.class": (
        "project {project} has no allocation active now that allows any {name} pool",
        "{project} 과제에는 지금 {name} 풀을 쓸 수 있는 유효한 배정이 없습니다",
    ),
    "refusal.admission.award_too_small.pool": (
        "project {project} has {left} H100e GPU-hours left on pool {name}, but {devices} device(s)"
        " for {time} may use {hold}; ask for fewer devices or a shorter --time",
        "{project} 과제는 {name} 풀에서 H100 환산 GPU시간이 {left} 남았는데, 장치 {devices}개로"
        " {time} 동안이면 최대 {hold}를 쓸 수 있습니다. 장치 수를 줄이거나 실행 시간을 줄이세요",
    ),
    "refusal.admission.award_too_small.class": (
        "project {project} has {left} H100e GPU-hours left on any {name} pool, but {devices}"
        " device(s) for {time} may use {hold}; ask for fewer devices or a shorter --time",
        "{project} 과제는 {name} 풀에서 H100 환산 GPU시간이 {left} 남았는데, 장치 {devices}개로"
        " {time} 동안이면 최대 {hold}를 쓸 수 있습니다. 장치 수를 줄이거나 실행 시간을 줄이세요",
    ),
    "refusal.jobs.not_member": (
        "you are not a member of project {project}",
        "{project} 과제의 구성원이 아닙니다",
    ),
    "error.internal.message": (
        "The server could not show this page. Try again in a moment; if it keeps happening, tell"
        " the commons' operator (the server log has the details).",
        "서버가 이 페이지를 보여 주지 못했습니다. 잠시 후 다시 시도하세요. 계속되면 운영자에게"
        " 알려 주세요 (자세한 내용은 서버 로그에 있습니다).",
    ),
    "error.back_to_jobs": ("Back to your jobs", "작업 목록으로 돌아가기"),
    "error.to_sign_in": ("Sign in", "로그인"),
    # -- signing in
    "sign_in.title": ("Sign in", "로그인"),
    "sign_in.intro": (
        "Sign in with your API token: the same token the nuri command uses.",
        "API 토큰으로 로그인하세요. nuri 명령에서 쓰는 토큰과 같습니다.",
    ),
    "sign_in.token": ("API token", "API 토큰"),
    "sign_in.token_hint": (
        "It starts with nuri_. If you have none, ask the commons' operator for one.",
        "nuri_로 시작합니다. 토큰이 없으면 운영자에게 요청하세요.",
    ),
    "sign_in.submit": ("Sign in", "로그인"),
    "sign_in.refused": (
        "That token does not sign anyone in. Check that you pasted all of it; a token that was"
        " revoked or has expired no longer works, and the operator can issue a new one.",
        "이 토큰으로는 로그인할 수 없습니다. 토큰 전체를 붙여 넣었는지 확인하세요. 폐기되었거나"
        " 만료된 토큰은 쓸 수 없으며, 운영자가 새 토큰을 발급할 수 있습니다.",
    ),
    "sign_in.signed_out": ("You have signed out.", "로그아웃했습니다."),
    "sign_in.too_many": (
        "Too many failed sign-ins from your address. Wait {seconds} seconds, then sign in with a"
        " valid token.",
        "이 주소에서 로그인 실패가 너무 많습니다. {seconds}초 기다린 뒤 유효한 토큰으로 로그인하세요.",
    ),
    # -- jobs
    "jobs.title": ("Jobs", "작업"),
    "jobs.submit": ("Submit a job", "작업 제출"),
    "jobs.filter": ("Filter jobs", "작업 걸러 보기"),
    "jobs.all_projects": ("All projects", "모든 과제"),
    "jobs.all_states": ("All states", "모든 상태"),
    "jobs.apply_filter": ("Show", "보기"),
    "jobs.count": ("{count} jobs, newest first", "작업 {count}개, 최근 순"),
    "jobs.caption": ("Jobs, page {page} of {pages}", "작업 목록, {pages}쪽 중 {page}쪽"),
    "jobs.none": ("No jobs here yet.", "아직 작업이 없습니다."),
    "jobs.submit_first": ("Submit one.", "작업을 제출해 보세요."),
    # -- one job
    "job.title": ("Job {id}", "작업 {id}"),
    "job.status": ("State", "상태"),
    "job.announce_state": ("Job {id}: {state}", "작업 {id}: {state}"),
    "job.queue_position": ("Place in the queue", "대기 순서"),
    "job.queue_position_value": (
        "{position} in the queue for {pool}",
        "{pool} 대기열 {position}번째",
    ),
    "job.estimated_start": ("Estimated start", "예상 시작 시각"),
    "job.no_estimate": (
        "No estimate yet (the queue ahead is longer than the estimate looks).",
        "아직 추정할 수 없습니다 (앞선 대기열이 추정 범위보다 깁니다).",
    ),
    "job.estimate_how": (
        "How this is estimated: the current queue is simulated forward with the live scheduling"
        " policy ({policy}), assuming every running and queued job uses its whole time limit."
        " Jobs usually end earlier, so the estimate errs late.",
        "추정 방법: 현재 대기열을 운영 중인 스케줄링 정책({policy})으로 앞서 모의 실행합니다. 실행"
        " 중이거나 대기 중인 모든 작업이 시간 제한을 끝까지 쓴다고 가정하므로, 작업이 대개 더 일찍"
        " 끝나는 실제보다 늦게 잡힙니다.",
    ),
    "job.devices": ("devices {devices}", "장치 {devices}"),
    "job.held": ("Held from the award", "할당에서 예치된 양"),
    "job.held_value": (
        "{hours} H100e GPU-hours, until the job ends and its real use is charged",
        "H100 환산 {hours} GPU 시간 (작업이 끝나 실제 사용량이 청구될 때까지)",
    ),
    "job.cancel": ("Cancel this job", "이 작업 취소"),
    "job.resubmit": ("Submit again…", "다시 제출…"),
    "job.details": ("Details", "상세 정보"),
    "job.log": ("Output", "출력"),
    "job.log_truncated": (
        "Only the end of the output is shown; nuri logs shows all of it.",
        "출력의 끝부분만 보입니다. 전체는 nuri logs 명령으로 볼 수 있습니다.",
    ),
    "job.log_empty": ("The job wrote no output.", "작업이 출력한 내용이 없습니다."),
    # -- submitting
    "submit.title": ("Submit a job", "작업 제출"),
    "submit.resubmitting": (
        "Filled in from job {id}; change what you need and submit.",
        "작업 {id}의 내용으로 채웠습니다. 필요한 부분을 고친 뒤 제출하세요.",
    ),
    "submit.refused": ("The job was not queued", "작업이 대기열에 들어가지 못했습니다"),
    "submit.choose": ("Choose…", "선택하세요…"),
    "submit.project_hint": (
        "The project whose award the job is charged to.",
        "작업 비용이 청구될 할당을 가진 과제입니다.",
    ),
    "submit.target": ("Where to run", "실행 위치"),
    "submit.target_hint": (
        "A pool, or any pool of an accelerator that your award allows (the scheduler picks).",
        "자원 풀을 고르거나, 할당이 허용하는 해당 가속기의 아무 자원 풀을 고르세요 (스케줄러가 정합니다).",
    ),
    "submit.pools": ("Pools", "자원 풀"),
    "submit.pool_option": (
        "{pool} ({accelerator}, {free} of {devices} devices free)",
        "{pool} ({accelerator}, 장치 {devices}개 중 {free}개 사용 가능)",
    ),
    "submit.accelerators": ("Any pool of an accelerator", "가속기 기준 (아무 자원 풀)"),
    "submit.accelerator_option": ("Any {accelerator} pool", "{accelerator} 자원 풀 아무 곳"),
    "submit.gpus_hint": (
        "Devices to hold, all on one node (1 to 64).",
        "사용할 장치 수입니다. 모두 한 노드에 배정됩니다 (1~64).",
    ),
    "submit.time_limit_hint": (
        "For example 30m, 2h, 1d or 1h30m. Until the job ends, the award holds devices x time"
        " limit.",
        "예: 30m, 2h, 1d, 1h30m. 작업이 끝날 때까지 장치 수에 시간 제한을 곱한 만큼이 할당에서"
        " 예치됩니다.",
    ),
    "submit.command_hint": (
        "Program and arguments, split as a shell would but run without one, e.g."
        " python3 train.py --epochs 3",
        "프로그램과 인자입니다. 셸처럼 나누지만 셸 없이 실행합니다. 예: python3 train.py --epochs 3",
    ),
    "submit.name": ("Name (optional)", "이름 (선택)"),
    "submit.name_hint": (
        "A label for lists; by default the program's name.",
        "목록에 보일 이름입니다. 비워 두면 프로그램 이름을 씁니다.",
    ),
    "submit.preemptible_hint": (
        "The job may borrow idle reserved devices and be stopped (SIGTERM, a grace period) and"
        " requeued; keep your state in $NURI_CHECKPOINT_DIR.",
        "유휴 예약 장치를 빌려 쓸 수 있지만, 중지(SIGTERM 후 유예 시간)되고 다시 대기열에 들어갈 수"
        " 있습니다. 상태는 $NURI_CHECKPOINT_DIR에 저장하세요.",
    ),
    "submit.submit": ("Submit the job", "작업 제출"),
    "submit.error.project": ("Choose one of your projects.", "내 과제 중 하나를 고르세요."),
    "submit.error.target": (
        "Choose a pool or an accelerator.",
        "자원 풀이나 가속기를 고르세요.",
    ),
    "submit.error.gpus": (
        "Enter a whole number of devices from 1 to 64.",
        "장치 수는 1에서 64 사이의 정수로 입력하세요.",
    ),
    "submit.error.time_limit": (
        "Enter a time limit such as 30m, 2h, 1d or 1h30m.",
        "시간 제한을 30m, 2h, 1d, 1h30m과 같은 형식으로 입력하세요.",
    ),
    "submit.error.command_empty": ("Enter the command to run.", "실행할 명령을 입력하세요."),
    "submit.error.command_quotes": (
        "A quotation mark in the command is not closed.",
        "명령의 따옴표가 닫히지 않았습니다.",
    ),
    "submit.error.name": (
        "The name can be at most 200 characters.",
        "이름은 200자까지 쓸 수 있습니다.",
    ),
    # -- projects
    "projects.title": ("Projects", "과제"),
    "projects.caption": ("Your projects ({count})", "내 과제 ({count}개)"),
    "projects.links": ("Team", "연구팀"),
    "projects.team_link": ("Team and spend of {project}", "{project} 연구팀과 사용량"),
    "projects.none": (
        "You lead or belong to no project yet.",
        "아직 책임자이거나 참여하는 과제가 없습니다.",
    ),
    "project.summary": (
        "{organisation} · PI {pi} · {field}",
        "{organisation} · 연구책임자 {pi} · {field}",
    ),
    "project.sections": ("Project sections", "과제 메뉴"),
    "project.awards_tab": ("Awards and usage", "할당과 사용량"),
    "project.team_tab": ("Team", "연구팀"),
    "project.jobs_tab": ("Jobs", "작업"),
    "project.totals": ("Totals", "합계"),
    "usage.awarded": ("Awarded", "할당량"),
    "usage.used": ("Used", "사용량"),
    "usage.held": ("Held", "예치량"),
    "usage.remaining": ("Remaining", "잔여량"),
    "usage.cost": ("Cost", "비용"),
    "usage.explained": (
        "Hours are H100e GPU-hours. Held is what queued and running jobs may still use; remaining"
        " is awarded minus used minus held.",
        "시간은 H100 환산 GPU 시간입니다. 예치량은 대기 중이거나 실행 중인 작업이 더 쓸 수 있는 양이며,"
        " 잔여량은 할당량에서 사용량과 예치량을 뺀 값입니다.",
    ),
    "project.awards": ("Awards", "할당"),
    "project.awards_caption": ("Awards of {project}", "{project}의 할당"),
    "project.inactive": ("not in force", "효력 없음"),
    "project.hours_unit_note": (
        "Awarded, used, held and remaining are in H100e GPU-hours.",
        "할당량, 사용량, 예치량, 잔여량의 단위는 H100 환산 GPU 시간입니다.",
    ),
    "project.no_awards": ("This project has no awards yet.", "이 과제에는 아직 할당이 없습니다."),
    "project.burn_down": ("Usage of allocation {id}, day by day", "할당 {id}의 일별 사용 추이"),
    "project.burn_down_explained": (
        "Used and remaining H100e GPU-hours at the end of each day (UTC) since the award began.",
        "할당 시작일부터 매일 말(UTC) 기준의 사용량과 잔여량입니다 (H100 환산 GPU 시간).",
    ),
    "project.burn_down_summary": (
        "Chart: {used} of {awarded} H100e GPU-hours used, {remaining} remaining. The same figures"
        " are in the table below.",
        "차트: H100 환산 {awarded} GPU 시간 중 {used} 사용, {remaining} 남음. 같은 수치가 아래 표에"
        " 있습니다.",
    ),
    "project.burn_down_table": ("The chart's figures as a table", "차트 수치를 표로 보기"),
    "project.by_pool": ("Usage by pool", "자원 풀별 사용량"),
    "project.nothing_charged": (
        "Nothing has been charged to this project yet.",
        "이 과제에 아직 청구된 사용량이 없습니다.",
    ),
    "chart.used": ("Used", "사용량"),
    "chart.remaining": ("Remaining", "잔여량"),
    "chart.awarded": ("Awarded", "할당량"),
    # -- team
    "team.title": ("Team of {project}", "{project} 연구팀"),
    "team.heading": ("Members and their spend", "참여자별 사용량"),
    "team.explained": (
        "What the jobs each person submitted to this project were charged, in H100e GPU-hours"
        " and won.",
        "각 참여자가 이 과제로 제출한 작업에 청구된 양입니다 (H100 환산 GPU 시간과 원).",
    ),
    "team.role": ("Role", "역할"),
    "team.share": ("Share", "비중"),
    "team.pi": ("PI", "연구책임자"),
    "team.member": ("member", "참여연구원"),
    "team.former": ("former member", "이전 참여자"),
    # -- proposals
    "proposals.title": ("Proposals", "제안서"),
    "proposals.explained": (
        "Your proposals to allocation programmes' calls, and where each one stands.",
        "지원 사업 공모에 낸 제안서와 진행 상태입니다.",
    ),
    "proposals.call_summary": (
        "Call {state} · open from {opens} to {closes}",
        "공모 {state} · 접수 기간 {opens} ~ {closes}",
    ),
    "proposals.caption": ("Your proposals to {call}", "{call} 공모에 낸 제안서"),
    "proposals.requested": ("Requested (GPU-hours per pool)", "신청량 (자원 풀별 GPU 시간)"),
    "proposals.reviews": ("Reviews", "평가"),
    "proposals.reviews_value": ("{submitted} of {assigned}", "{assigned}건 중 {submitted}건"),
    "proposals.none": ("You have no proposals.", "제출한 제안서가 없습니다."),
    # -- reviews (a reviewer's)
    "reviews.title": ("My reviews", "내 평가"),
    "reviews.explained": (
        "The proposals assigned to you, per call. Open one to score it on the call's rubric;"
        " sending the form again replaces your scores while the call is open.",
        "공모별로 배정된 제안서입니다. 제안서를 열어 공모의 평가 기준에 따라 점수를 매기세요."
        " 공모가 접수 중인 동안에는 다시 제출하면 점수가 바뀝니다.",
    ),
    "reviews.caption": ("Proposals assigned to you in {call}", "{call} 공모에서 배정된 제안서"),
    "reviews.my_review": ("My review", "내 평가"),
    "reviews.total": ("Weighted score", "가중 점수"),
    "reviews.total_explained": (
        "The weighted score is the rubric's weighted mean, each criterion rescaled to 0 to 1.",
        "가중 점수는 각 기준을 0~1로 환산한 점수의 가중 평균입니다.",
    ),
    "reviews.scored_on": ("scored {when}", "{when} 평가함"),
    "reviews.to_do": ("to score", "평가 전"),
    "reviews.none": (
        "No proposals are assigned to you.",
        "배정된 제안서가 없습니다.",
    ),
    "conflicts.title": ("Conflicts of interest", "이해 충돌"),
    "conflicts.explained": (
        "Declare a proposal, person or organisation (by its name in nuri) you should not review:"
        " no manager can then assign you to it. Your own organisation and your own projects"
        " count without declaring them.",
        "평가하지 않아야 할 제안서, 사람 또는 기관을 nuri에서 쓰는 이름으로 신고하세요."
        " 신고하면 관리자가 그 평가를 배정할 수 없습니다. 소속 기관과 참여 과제는 신고하지 않아도"
        " 충돌로 봅니다.",
    ),
    "conflicts.none": ("You have declared no conflicts.", "신고한 이해 충돌이 없습니다."),
    "conflicts.subject": ("Name to declare", "신고할 이름"),
    "conflicts.declare": ("Declare the conflict", "이해 충돌 신고"),
    "conflicts.declared": (
        "Declared a conflict with {subject}.",
        "{subject}와의 이해 충돌을 신고했습니다.",
    ),
    "review.title": ("Review of {proposal}", "{proposal} 평가"),
    "review.pi": ("PI", "연구책임자"),
    "review.minimum": ("Minimum viable amount", "최소 필요량"),
    "review.team": ("Team", "연구팀"),
    "review.abstract": ("Abstract", "요약"),
    "review.data_plan": ("Data plan", "데이터 계획"),
    "review.model_plan": ("Model plan", "모델 계획"),
    "review.form_heading": ("Your scores", "내 점수"),
    "review.form_explained": (
        "Score every criterion with a whole number within its scale.",
        "모든 기준에 척도 범위 안의 정수로 점수를 매기세요.",
    ),
    "review.score_hint": (
        "A whole number from {lowest} to {highest}; weight {weight}.",
        "{lowest}~{highest} 사이의 정수, 가중치 {weight}.",
    ),
    "review.comment": ("Comment (optional)", "의견 (선택)"),
    "review.comment_hint": (
        "What the programme manager should know about your scores.",
        "사업 관리자가 알아야 할 점수의 근거를 적어 주세요.",
    ),
    "review.submit": ("Save my scores", "점수 저장"),
    "review.replace": ("Replace my scores", "점수 바꾸기"),
    "review.saved": ("Your scores are saved ({when}).", "점수를 저장했습니다 ({when})."),
    "review.last_saved": (
        "Last saved {when}: weighted score {total}.",
        "마지막 저장 {when}: 가중 점수 {total}.",
    ),
    "review.refused": ("The scores were not saved", "점수를 저장하지 못했습니다"),
    "review.error.score_missing": (
        "Enter a whole number from {lowest} to {highest}.",
        "{lowest}~{highest} 사이의 정수를 입력하세요.",
    ),
    "review.error.score_range": (
        "The score must be from {lowest} to {highest}.",
        "점수는 {lowest}~{highest} 사이여야 합니다.",
    ),
    "review.error.comment": (
        "The comment is too long: at most {limit} characters.",
        "의견이 너무 깁니다. 최대 {limit}자까지 쓸 수 있습니다.",
    ),
    "criterion.excellence": ("Excellence", "우수성"),
    "criterion.impact": ("Impact", "파급효과"),
    "criterion.feasibility": ("Feasibility", "실현 가능성"),
    # -- calls (a programme manager's)
    "calls.title": ("Calls", "공모"),
    "calls.explained": (
        "Every call of the allocation programmes: open it for its proposals, reviews, ranking,"
        " award plan and stages.",
        "지원 사업의 모든 공모입니다. 공모를 열면 제안서, 평가, 순위, 배정안, 단계를 볼 수 있습니다.",
    ),
    "calls.open_period": ("Open", "접수 기간"),
    "calls.award_period": ("Award period", "배정 기간"),
    "calls.proposals": ("Proposals", "제안서"),
    "calls.none": ("There are no calls yet.", "아직 공모가 없습니다."),
    "field.call": ("Call", "공모"),
    "call.budgets": ("Budget per pool", "자원 풀별 예산"),
    "call.rubric": ("Rubric", "평가 기준"),
    "call.criterion_scale": (
        "weight {weight}, {lowest} to {highest}",
        "가중치 {weight}, {lowest}~{highest}",
    ),
    "call.proposals": ("Proposals", "제안서"),
    "call.proposals_caption": ("Proposals to {call}", "{call} 공모의 제안서"),
    "call.no_proposals": ("No proposals yet.", "아직 제안서가 없습니다."),
    "call.reviews": ("Reviews received", "접수된 평가"),
    "call.reviews_caption": ("Reviews of proposals to {call}", "{call} 공모 제안서의 평가"),
    "call.no_reviews": ("No reviewers are assigned yet.", "아직 배정된 평가위원이 없습니다."),
    "call.reviewer": ("Reviewer", "평가위원"),
    "call.reviewer_hint": (
        "The reviewer's user name, e.g. han.",
        "평가위원의 사용자 이름 (예: han).",
    ),
    "call.assign": ("Assign a reviewer", "평가위원 배정"),
    "call.assign_button": ("Assign", "배정"),
    "call.assigned": ("{reviewer} is assigned.", "{reviewer} 평가위원을 배정했습니다."),
    "call.assign_refused": ("The reviewer was not assigned", "평가위원을 배정하지 못했습니다"),
    "call.nothing_to_assign": (
        "No submitted proposals to assign reviewers to.",
        "평가위원을 배정할 제출된 제안서가 없습니다.",
    ),
    "call.ranking": ("Ranking", "순위"),
    "call.ranking_explained": (
        "Each reviewer's weighted scores are normalised (z-scores per reviewer) and averaged per"
        " proposal, so a strict reviewer and a lenient one count alike.",
        "평가위원마다 가중 점수를 표준화(z 점수)한 뒤 제안서별로 평균하므로, 엄격한 평가위원과"
        " 관대한 평가위원이 같은 무게를 가집니다.",
    ),
    "call.rank": ("Rank", "순위"),
    "call.normalised_score": ("Normalised score", "표준화 점수"),
    "call.weight": ("Weight in the plan", "배정안 가중치"),
    "call.no_ranking": ("No reviews are scored yet.", "아직 채점된 평가가 없습니다."),
    "call.plan": ("Award plan (optimiser)", "배정안 (최적화)"),
    "call.plan_explained": (
        "The optimiser's plan: GPU-hours per proposal and pool within each pool's budget,"
        " favouring higher-ranked proposals and never below a proposal's minimum viable amount.",
        "최적화기가 낸 배정안입니다. 자원 풀별 예산 안에서 순위가 높은 제안서를 우선하며, 제안서의"
        " 최소 필요량보다 적게 배정하지 않습니다 (GPU 시간).",
    ),
    "call.plan_not_optimal": (
        "The optimiser stopped before proving this plan optimal.",
        "최적화기가 이 배정안의 최적성을 증명하기 전에 멈췄습니다.",
    ),
    "call.planned_of_budget": ("Planned of budget", "예산 대비 배정"),
    "call.of": ("{part} of {whole}", "{whole} 중 {part}"),
    "call.no_plan": (
        "Nothing to plan until proposals are scored.",
        "채점된 제안서가 있어야 배정안이 나옵니다.",
    ),
    "call.decide_elsewhere": (
        "Awards are decided with nuri award decide or the API, which record who decided and why.",
        "선정은 nuri award decide 명령이나 API로 결정하며, 누가 왜 결정했는지 기록됩니다.",
    ),
    "call.awards": ("Awards decided", "선정 결과"),
    "call.granted": ("Granted (GPU-hours per pool)", "배정량 (자원 풀별 GPU 시간)"),
    "call.source": ("Decided by", "결정 방식"),
    "call.reason": ("Reason", "사유"),
    "call.no_awards": ("No awards are decided yet.", "아직 선정 결과가 없습니다."),
    "award_source.optimiser": ("the optimiser's plan", "최적화 배정안"),
    "award_source.override": ("override", "수동 조정"),
    "call.stages": ("Stages and leaderboards", "단계와 순위표"),
    "call.stage_heading": ("Stage {number}: {name}", "{number}단계: {name}"),
    "call.stage_summary": (
        "{state} · ends {ends} · metric {metric} ({direction})",
        "{state} · 종료 {ends} · 지표 {metric} ({direction})",
    ),
    "call.higher_better": ("higher is better", "높을수록 좋음"),
    "call.lower_better": ("lower is better", "낮을수록 좋음"),
    "call.leaderboard": ("Leaderboard of {name}", "{name} 순위표"),
    "call.team": ("Team", "팀"),
    "call.no_result": ("no result yet", "결과 없음"),
    "call.no_teams": ("No teams compete in this stage.", "이 단계에 참여하는 팀이 없습니다."),
    "call.gate_decided": ("Gate decided ({rule}):", "단계 평가 결과 ({rule}):"),
    "call.gate_preview": (
        "If the gate were decided now ({rule}):",
        "지금 단계 평가를 한다면 ({rule}):",
    ),
    "call.advance": ("continue", "다음 단계 진출"),
    "call.stop": ("stop", "종료"),
    "call.no_stages": ("This call has no stages.", "이 공모에는 단계가 없습니다."),
    "stage_state.open": ("open", "진행 중"),
    "stage_state.gated": ("gated", "평가 완료"),
    # -- the dashboard (operators and policy makers)
    "dashboard.title": ("Commons dashboard", "공동활용 인프라 현황"),
    "dashboard.sections": ("Dashboard sections", "현황 항목"),
    "dashboard.section.spend": ("Spend and needs", "사용액과 추가 수요"),
    "dashboard.section.utilisation": ("Utilisation", "가동률"),
    "dashboard.section.waits": ("Waiting times", "대기 시간"),
    "dashboard.section.fairness": ("Fairness", "공정성"),
    "dashboard.section.forecast": ("Forecasts", "수요 예측"),
    "dashboard.show": ("Show", "보기"),
    "dashboard.spend_heading": ("How much was spent", "지금까지 사용한 양"),
    "dashboard.spend_explained": (
        "Everything charged to the ledger so far, grouped as you choose.",
        "지금까지 사용 원장에 청구된 전체 사용량을 선택한 기준으로 묶어 보여 줍니다.",
    ),
    "dashboard.group_by": ("Group by", "묶음 기준"),
    "dashboard.by.pool": ("Pool", "자원 풀"),
    "dashboard.by.hub": ("Hub", "거점"),
    "dashboard.by.community": ("Community", "이용자 유형"),
    "dashboard.by.programme": ("Programme", "지원 사업"),
    "dashboard.spent": ("Spent", "사용액"),
    "dashboard.more_needed": ("More needed", "추가 필요액"),
    "dashboard.per_year": ("a year", "연간"),
    "dashboard.spend_gpu_hours": ("Used", "사용량"),
    "dashboard.spend_summary": (
        "Bar chart: {total} H100e GPU-hours used in {groups} groups. The same figures are in the"
        " table below.",
        "막대 차트: {groups}개 묶음에서 H100 환산 {total} GPU 시간 사용. 같은 수치가 아래 표에"
        " 있습니다.",
    ),
    "dashboard.spend_caption": ("Spend by {by}", "{by}별 사용량"),
    "dashboard.charges": ("Charges", "청구 건수"),
    "dashboard.download_csv": ("Download as CSV", "CSV로 내려받기"),
    "dashboard.download_history_csv": (
        "Download this series' last 30 days as CSV",
        "이 시계열의 최근 30일을 CSV로 내려받기",
    ),
    "dashboard.needs_heading": ("How much more is needed", "얼마나 더 필요한가"),
    "dashboard.needs_explained": (
        "Per pool, over the last 30 days: how busy it was and the devices it would need so that"
        " 90% of hours stay below 85% busy, with what they would cost a year at the pool's price."
        " nuri plan answers the same question by simulating waiting times.",
        "최근 30일 동안 자원 풀별 가동률과, 시간의 90%에서 가동률 85% 이하를 유지하는 데 필요한"
        " 장치 수, 그리고 자원 풀 단가로 계산한 연간 비용입니다. nuri plan 명령은 대기 시간을"
        " 모의실험하여 같은 질문에 답합니다.",
    ),
    "dashboard.hub": ("Hub", "거점"),
    "dashboard.devices": ("Devices", "장치"),
    "dashboard.utilisation": ("Utilisation", "가동률"),
    "dashboard.p90_demand": ("Demand, 90th percentile (devices)", "수요 90백분위 (장치)"),
    "dashboard.p90_wait": ("Wait, 90th percentile", "대기 시간 90백분위"),
    "dashboard.additional_devices": ("Devices to add", "추가 장치"),
    "dashboard.additional_cost": ("Their cost a year", "연간 비용"),
    "dashboard.utilisation_heading": (
        "Utilisation by weekday and hour, last {window} days",
        "최근 {window}일 요일·시간대별 가동률",
    ),
    "dashboard.utilisation_explained": (
        "Delivered over capacity in each hour ({zone}), averaged over the same weekday and hour."
        " A pool counts its devices; a hub counts H100e.",
        "매시간({zone}) 제공량을 용량으로 나눈 값을 같은 요일·시간대끼리 평균했습니다. 자원 풀은"
        " 장치 수, 거점은 H100 환산으로 계산합니다.",
    ),
    "dashboard.pool_or_hub": ("Pool or hub", "자원 풀 또는 거점"),
    "dashboard.series_all": ("The whole commons", "공동활용 인프라 전체"),
    "dashboard.series_pool": ("Pool {name}", "자원 풀 {name}"),
    "dashboard.series_hub": ("Hub {name}", "거점 {name}"),
    "dashboard.series_community": ("Community: {name}", "이용자 유형: {name}"),
    "dashboard.utilisation_summary": (
        "Heatmap of {series}: {overall} busy overall; the busiest hour is {day} {hour}:00 at"
        " {busiest}. The same figures are in the table below.",
        "{series} 히트맵: 전체 가동률 {overall}, 가장 바쁜 시간은 {day} {hour}시 ({busiest})."
        " 같은 수치가 아래 표에 있습니다.",
    ),
    "dashboard.utilisation_idle": (
        "Heatmap of {series}: nothing ran in this window.",
        "{series} 히트맵: 이 기간에 실행된 작업이 없습니다.",
    ),
    "dashboard.no_data": ("Nothing to show yet.", "아직 보여 줄 자료가 없습니다."),
    "dashboard.hour_of_day": ("Hour of day ({zone})", "시각 ({zone})"),
    "dashboard.weekday": ("Weekday", "요일"),
    "dashboard.percent_note": ("Values are percentages.", "값의 단위는 퍼센트입니다."),
    "weekday.0": ("Mon", "월"),
    "weekday.1": ("Tue", "화"),
    "weekday.2": ("Wed", "수"),
    "weekday.3": ("Thu", "목"),
    "weekday.4": ("Fri", "금"),
    "weekday.5": ("Sat", "토"),
    "weekday.6": ("Sun", "일"),
    "dashboard.waits_heading": (
        "Waiting times of jobs started in the last {days} days",
        "최근 {days}일 동안 시작한 작업의 대기 시간",
    ),
    "dashboard.waits_explained": (
        "From submission to start, for every job that started in the window (at most {max} days).",
        "기간 안에 시작한 모든 작업의 제출부터 시작까지의 시간입니다 (최대 {max}일).",
    ),
    "dashboard.days": ("Days", "기간 (일)"),
    "dashboard.all_pools": ("All pools", "모든 자원 풀"),
    "dashboard.wait_bin": ("{lowest} to {highest}", "{lowest} ~ {highest}"),
    "dashboard.wait_bin_last": ("{lowest} or more", "{lowest} 이상"),
    "dashboard.jobs": ("Jobs", "작업 수"),
    "dashboard.wait": ("Wait", "대기 시간"),
    "dashboard.cumulative": ("Started within (cumulative)", "누적 비율"),
    "dashboard.waits_caption": ("Jobs by waiting time", "대기 시간별 작업 수"),
    "dashboard.waits_summary": (
        "Histogram of {jobs} jobs' waits: median {median}, 90th percentile {p90}. The same figures"
        " are in the table below.",
        "작업 {jobs}건의 대기 시간 히스토그램: 중앙값 {median}, 90백분위 {p90}. 같은 수치가 아래 표에"
        " 있습니다.",
    ),
    "dashboard.no_jobs_started": (
        "No job started in this window.",
        "이 기간에 시작한 작업이 없습니다.",
    ),
    "dashboard.fairness_heading": (
        "Delivered against awarded, per community",
        "이용자 유형별 할당 대비 제공",
    ),
    "dashboard.fairness_explained": (
        "Each community's share of all H100e GPU-hours awarded, next to its share of those"
        " delivered (charged). A ratio of 1 means a community got exactly its share.",
        "각 이용자 유형이 전체 할당량(H100 환산 GPU 시간)에서 차지하는 비중과 실제로 제공(청구)된"
        " 양에서 차지하는 비중입니다. 비율 1은 할당받은 만큼 정확히 쓴 것입니다.",
    ),
    "dashboard.jain": ("Jain's fairness index", "Jain 공정성 지수"),
    "dashboard.jain_explained": (
        "Of the delivered-to-awarded ratios: 1 when every community gets the same fraction of its"
        " award, 1/n when one community gets everything.",
        "할당 대비 제공 비율로 계산합니다. 모든 이용자 유형이 할당의 같은 비율을 받으면 1, 한"
        " 유형이 모두 가져가면 1/n입니다.",
    ),
    "dashboard.fairness_summary": (
        "Bar chart of awarded and delivered shares of {communities} communities; Jain's index"
        " {jain}. The same figures are in the table below.",
        "이용자 유형 {communities}개의 할당 비중과 제공 비중 막대 차트, Jain 지수 {jain}. 같은 수치가"
        " 아래 표에 있습니다.",
    ),
    "dashboard.awarded_share": ("Share awarded", "할당 비중"),
    "dashboard.delivered_share": ("Share delivered", "제공 비중"),
    "dashboard.delivered": ("Delivered", "제공량"),
    "dashboard.share": ("Share", "비중"),
    "dashboard.ratio": ("Delivered / awarded", "제공 / 할당"),
    "community.university": ("universities", "대학"),
    "community.startup": ("startups", "스타트업"),
    "community.sme": ("SMEs", "중소기업"),
    "community.institute": ("institutes", "연구기관"),
    "community.public-agency": ("public agencies", "공공기관"),
    "dashboard.forecast_heading": ("Demand forecast", "수요 예측"),
    "dashboard.forecast_explained": (
        "Demanded hours per hour, forecast from the last 30 days with the demand later awards and"
        " open calls already promise; the model is chosen by backtest, and the band is its"
        " calibrated 80% interval.",
        "최근 30일과 이후 할당·진행 중인 공모가 약속한 수요로 시간당 수요를 예측합니다. 모형은"
        " 백테스트로 고르며, 음영은 보정된 80% 구간입니다.",
    ),
    "dashboard.series": ("Series", "시계열"),
    "dashboard.horizon": ("Horizon", "예측 기간"),
    "dashboard.horizon.1d": ("1 day", "1일"),
    "dashboard.horizon.2d": ("2 days", "2일"),
    "dashboard.horizon.7d": ("7 days", "7일"),
    "dashboard.no_forecast": ("No forecast for this series", "이 시계열은 예측할 수 없습니다"),
    "dashboard.section.plan": ("Capacity plan", "증설 계획"),
    "dashboard.plan_heading": ("How many devices to buy", "얼마나 더 사야 하나"),
    "dashboard.plan_explained": (
        "For one pool: samples of its forecast demand for the next week are simulated on candidate"
        " sizes with the scheduler's own policy code ({samples} samples, whole nodes), and the"
        " smallest size where 90% of jobs start within the target is recommended, with Erlang C as"
        " a cross-check and the cost in won. `nuri plan` plans several pools with more samples.",
        "풀 하나에 대해, 다음 주 수요 예측에서 뽑은 표본을 스케줄러와 같은 정책 코드로 후보 규모마다"
        " 모의 실행하고(표본 {samples}개, 노드 단위), 작업의 90%가 목표 대기 시간 안에 시작하는 가장"
        " 작은 규모를 권고합니다. 얼랑 C로 교차 확인하고 비용은 원으로 보입니다. 여러 풀을 더 많은"
        " 표본으로 계획하려면 `nuri plan`을 쓰세요.",
    ),
    "dashboard.plan_pool": ("Pool", "풀"),
    "dashboard.plan_target": ("p90 wait target", "90% 대기 시간 목표"),
    "dashboard.plan_run": ("Plan", "계획 세우기"),
    "dashboard.no_plan": ("No plan for this pool", "이 풀은 계획할 수 없습니다"),
    "dashboard.plan_caption": (
        "Recommended size for a p90 wait of {target}",
        "90% 대기 시간 {target} 목표의 권고 규모",
    ),
    "dashboard.plan_current": ("Devices now", "현재 장치"),
    "dashboard.plan_recommended": ("Recommended", "권고"),
    "dashboard.plan_added": ("To add", "추가"),
    "dashboard.plan_simulated_p90": ("Simulated p90 wait", "모의 90% 대기 시간"),
    "dashboard.plan_erlang": ("Erlang C devices", "얼랑 C 장치 수"),
    "dashboard.plan_capital": ("Capital (added)", "구매비(추가분)"),
    "dashboard.plan_running": ("Running per year", "연간 운영비"),
    "dashboard.plan_compare": (
        "H100 and domestic NPUs, per workload class",
        "작업 종류별 H100과 국산 NPU 비교",
    ),
    "dashboard.plan_compare_explained": (
        "Cost of one H100e GPU-hour delivered (price and running cost over the device's life);"
        " the basis says where each figure comes from.",
        "H100 환산 GPU시간 하나를 제공하는 비용(장치 수명 동안의 구매비와 운영비)입니다. 근거 열에"
        " 각 수치의 출처가 있습니다.",
    ),
    "dashboard.plan_accelerator": ("Accelerator", "가속기"),
    "dashboard.plan_class": ("Workload", "작업 종류"),
    "dashboard.plan_per_h100e_hour": ("Won per H100e GPU-hour", "H100e GPU시간당 원"),
    "dashboard.plan_basis": ("Basis", "근거"),
    "dashboard.forecast_summary": (
        "Chart: history and forecast by the {model} model, in {unit}; at the end of the horizon"
        " {mean} (80% interval {lo} to {hi}). The same figures are in the table below.",
        "차트: {model} 모형의 과거 수요와 예측 ({unit}). 예측 기간 끝 값은 {mean}, 80% 구간은 {lo}"
        " ~ {hi}입니다. 같은 수치가 아래 표에 있습니다.",
    ),
    "dashboard.history": ("Demanded (history)", "과거 수요"),
    "dashboard.forecast_mean": ("Forecast", "예측"),
    "dashboard.interval80": ("80% interval", "80% 구간"),
    "dashboard.time": ("Time", "시각"),
    "dashboard.lo80": ("80% low", "80% 하한"),
    "dashboard.hi80": ("80% high", "80% 상한"),
    "dashboard.backtest": ("Backtest", "백테스트"),
    "dashboard.backtest_explained": (
        "How each model did on the recent past: MASE (lower is better) and how often the truth"
        " fell inside its 80% interval (80% is calibrated).",
        "각 모형의 최근 성능입니다. MASE(낮을수록 좋음)와 실제 값이 80% 구간 안에 든 비율(80%면"
        " 보정이 맞음).",
    ),
    "dashboard.model": ("Model", "모형"),
    "dashboard.coverage": ("Inside the 80% interval", "80% 구간 포함률"),
    "dashboard.chosen": ("chosen", "선택됨"),
}
