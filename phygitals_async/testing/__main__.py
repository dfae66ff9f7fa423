"""``python -m phygitals_async.testing``: serve the local sandbox, as ``phygitals sandbox``."""

from ..cli import main

if __name__ == "__main__":
    raise SystemExit(main(["sandbox", *__import__("sys").argv[1:]]))
