"""``python -m benchmarks``: run every case and print one table."""

from benchmarks.run import main

raise SystemExit(main())
