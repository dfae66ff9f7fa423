"""``python -m phygitals_async.testing``: serve the local sandbox, as ``phygitals sandbox``."""

import sys

from ..cli import main

if __name__ == "__main__":
    raise SystemExit(main(["sandbox", *sys.argv[1:]]))
