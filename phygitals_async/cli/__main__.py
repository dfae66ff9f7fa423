"""``python -m phygitals_async.cli``: the ``phygitals`` command."""

from ._main import main

if __name__ == "__main__":  # pragma: no branch  only ever run as a program
    raise SystemExit(main())
