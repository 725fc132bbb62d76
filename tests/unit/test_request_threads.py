"""The request threads bound how many short database calls run at once, and carry the context."""

import contextvars
import threading
import time

import anyio

from nuri.api.request_threads import RequestThreads

CLAIM: contextvars.ContextVar[str | None] = contextvars.ContextVar("claim", default=None)


def test_at_most_the_given_number_run_at_once_and_each_sees_its_callers_context() -> None:
    threads = RequestThreads(2)
    running, most = 0, 0
    lock = threading.Lock()
    seen: list[str | None] = []

    def work(label: str) -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        seen.append(CLAIM.get())
        with lock:
            running -= 1
        return label.upper()

    async def caller(label: str, results: list[str]) -> None:
        CLAIM.set(f"claim-{label}")  # as the idempotency middleware sets one per request
        results.append(await threads.run(work, label))

    async def main() -> list[str]:
        results: list[str] = []
        async with anyio.create_task_group() as group:
            for label in "abcdef":
                group.start_soon(caller, label, results)
        return results

    results = anyio.run(main)
    assert sorted(results) == list("ABCDEF")
    assert most == 2
    assert sorted(str(claim) for claim in seen) == [f"claim-{label}" for label in "abcdef"]
