"""``python -m phygitals_async.testing``: serve the local sandbox, as ``phygitals sandbox``.

The kit imports nothing of the command line (which imports the kit to serve it): this
entry point hands over to ``python -m phygitals_async.cli sandbox`` by module name.
"""

import runpy
import sys

if __name__ == "__main__":  # pragma: no branch  only ever run as a program
    sys.argv[1:1] = ["sandbox"]
    runpy.run_module("phygitals_async.cli", run_name="__main__", alter_sys=True)
