"""The seam's one observation hook: a caller sees every attempt of the calls it makes."""

from __future__ import annotations

import asyncio
import logging

import pytest
from support import TOPPS

import phygitals_async as p
from phygitals_async._http import Attempt, observe
from phygitals_async.testing import Fault, LocalSandbox


async def test_an_observer_sees_each_attempt_with_status_and_request_id(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """A retried call shows the observer both answers, in order, with their request ids."""
    seen: list[Attempt] = []
    sandbox.faults.add(Fault.status(503, route="vm/available", count=1))
    with observe(seen.append):
        await client.list_packs()
    assert [a.status for a in seen] == [503, 200]
    assert all(a.method == "GET" and "/vm/available" in a.url for a in seen)
    assert all(a.request_id for a in seen)
    assert not any(a.lost for a in seen)
    assert "503" in repr(seen[0])


async def test_observers_see_only_their_own_calls(client: p.AsyncPhygitals) -> None:
    """Concurrent tasks on one client each reach their own observers; nesting adds one."""
    outer: list[Attempt] = []
    inner: list[Attempt] = []

    async def watched() -> None:
        with observe(inner.append):
            await client.list_packs()

    with observe(outer.append):
        await asyncio.gather(watched(), client.recent_pulls())

    def paths(attempts: list[Attempt]) -> list[str]:
        return sorted(a.url.split("?")[0].rsplit("/", 1)[-1] for a in attempts)

    assert paths(inner) == ["available"]
    assert paths(outer) == ["available", "recent-pulls"]


@pytest.mark.parametrize("settles", [False, True])
async def test_a_lost_answer_is_a_warning_unless_an_observer_settles_it(
    sandbox: LocalSandbox,
    client: p.AsyncPhygitals,
    caplog: pytest.LogCaptureFixture,
    settles: bool,
) -> None:
    """An answer lost for good is logged as a WARNING, or at DEBUG when an observer owns it."""
    sandbox.faults.add(Fault.drop_after(route="vm/buy/init", count=1))
    lost: list[Attempt] = []

    def seen(attempt: Attempt) -> bool:
        if attempt.lost:
            lost.append(attempt)
        return settles

    caplog.set_level(logging.DEBUG, logger="phygitals_async")
    with observe(seen), pytest.raises(p.OutcomeUnknownError):
        await client.buy(TOPPS, amount=1, user_id="u1")
    assert [(a.method, a.status) for a in lost] == [("POST", None)]
    levels = {r.levelno for r in caplog.records if "may have reached" in r.getMessage()}
    assert levels == {logging.DEBUG if settles else logging.WARNING}
