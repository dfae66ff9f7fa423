"""The ``phygitals`` command (``python -m phygitals_async.cli``); nothing else imports it."""

from ._main import main

__all__ = ["main"]
