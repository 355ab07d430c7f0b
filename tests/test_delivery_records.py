"""What every door records to do things once: handled requests (one retention policy for
every platform) and where a case's thread lives (kept or moved)."""

from __future__ import annotations

from commands.context import Services
from commands.dedupe import first_time, forget_handled, once, request_key
from commands.threads import CASE_THREAD, ThreadPlace, find_place, record_place
from tests.conftest import Clock


async def test_a_request_is_handled_once_on_every_platform(services: Services) -> None:
    slack, telegram = request_key("slack", "event", "Ev1"), request_key("telegram", "42")
    assert await first_time(services, slack)
    assert await first_time(services, telegram)
    assert not await first_time(services, slack)
    assert not await first_time(services, telegram)


async def test_one_retention_policy_for_every_platform(services: Services, clock: Clock) -> None:
    assert await first_time(services, request_key("slack", "oud"))
    assert await first_time(services, request_key("telegram", "oud"))
    clock.advance(days=29)
    assert await first_time(services, request_key("telegram", "jonger"))
    assert await forget_handled(services) == 0
    clock.advance(days=2)
    assert await forget_handled(services) == 2  # the two of 31 days ago, both platforms
    assert await first_time(services, request_key("slack", "oud"))  # forgotten: new again
    assert not await first_time(services, request_key("telegram", "jonger"))


async def test_a_thread_place_is_kept_unless_moved(services: Services) -> None:
    assert await find_place(services, "slack", CASE_THREAD, 7) is None
    assert await record_place(services, "slack", CASE_THREAD, 7, ThreadPlace("C1", "1.0"))
    assert not await record_place(services, "slack", CASE_THREAD, 7, ThreadPlace("C1", "2.0"))
    assert await find_place(services, "slack", CASE_THREAD, 7) == ThreadPlace("C1", "1.0")
    assert await find_place(services, "telegram", CASE_THREAD, 7) is None  # per platform
    assert await record_place(services, "telegram", CASE_THREAD, 7, ThreadPlace("-5", "10", "3"))
    assert await record_place(services, "telegram", CASE_THREAD, 7, ThreadPlace("-5", "11"),
                              move=True)
    assert await find_place(services, "telegram", CASE_THREAD, 7) == ThreadPlace("-5", "11", "3")


async def test_once_runs_a_keyed_write_again_after_losing_the_race() -> None:
    from sqlalchemy.exc import IntegrityError

    attempts: list[int] = []

    async def store() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise IntegrityError("INSERT", {}, Exception("unique submission_key"))
        return "RT-2026-0001"

    assert await once(store) == "RT-2026-0001"
    assert len(attempts) == 2
