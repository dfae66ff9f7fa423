"""What a forked child does with the event loop, thread and sockets it inherited.

After ``os.fork()`` (Celery's prefork pool, ``gunicorn --preload``, multiprocessing's
``fork``) the child holds a copy of every object but only the thread that forked: the
parent's loop thread is gone, while the parent's sockets, its epoll set and its loop's
wake-up pipe are shared with the parent. The child must neither use those objects nor close
them nor let them be finalized: closing a TLS connection sends ``close_notify`` on the
parent's socket, unregistering a socket edits the parent's epoll set, and stopping the
inherited portal waits for ever on a thread that does not exist.

So right after a fork, in the child, every registered owner hands its inherited objects to
:func:`abandon` (kept for ever, never touched) and builds fresh ones on first use.
"""

from __future__ import annotations

import ctypes
import os
import weakref
from typing import Protocol

__all__ = ["ForkAware", "abandon", "register"]


class ForkAware(Protocol):
    """An owner of loop-bound resources that must start afresh in a forked child."""

    def after_fork_in_child(self) -> None:
        """Forget (never close) what the parent made; called once, single-threaded."""


_owners: weakref.WeakSet[ForkAware] = weakref.WeakSet()


def register(owner: ForkAware) -> None:
    """Have ``owner.after_fork_in_child()`` called in every child forked from now on."""
    _owners.add(owner)


def abandon(*objects: object) -> None:
    """Keep ``objects`` alive and unfinalized until this process ends, without touching them.

    A plain list would be cleared at interpreter shutdown, running the very finalizers
    (session and connector ``__del__``, the portal's ``finally``) that harm the parent; a
    reference no one holds is never released.
    """
    for obj in objects:
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))


def _after_fork_in_child() -> None:
    for owner in list(_owners):
        owner.after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
