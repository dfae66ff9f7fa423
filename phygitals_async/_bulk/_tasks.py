"""Task groups of a run: a bounded pool over a list, and one typed error out of a group."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

import anyio

__all__ = ["bounded", "one_error"]

T = TypeVar("T")


async def bounded(items: list[T], concurrency: int, work: Callable[[T], Awaitable[None]]) -> None:
    """Run ``work`` for each item with at most ``concurrency`` at once."""
    pending: Iterator[T] = iter(items)

    async def worker() -> None:
        for item in pending:
            await work(item)

    async with one_error(), anyio.create_task_group() as group:
        for _ in range(min(concurrency, len(items))):
            group.start_soon(worker)


@contextlib.asynccontextmanager
async def one_error() -> AsyncIterator[None]:
    """Raise the error that stopped a task group as itself, not as an exception group.

    One failure (a journal that cannot be written, say) cancels the other tasks, so the
    group holds that error and cancellations: the caller gets the typed error it expects.
    """
    failure: BaseException | None = None
    try:
        yield
    except BaseExceptionGroup as group:
        leaves = list(_leaves(group))
        failure = next((e for e in leaves if not isinstance(e, asyncio.CancelledError)), None)
        if failure is None:
            raise
    if failure is not None:
        # Raised outside the handler, so its own cause and context stay as they were.
        raise failure


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            yield from _leaves(error)
        else:
            yield error
