"""A nightly sellback for cron: today's journal, exit codes, one summary line for the mail.

Sells back every card of a user (or those expiring within a day) through a journal named
by date, so a rerun the same night (after a crash, a reboot, a Ctrl+C) resumes tonight's
job, and tomorrow starts a new one. cron mails what a job prints: one line on success.

Exit codes: 0 every item sold; 3 some items failed or stayed unknown (the journal has
them, and the next run of the same day tries them again); 1 the job could not run (no
connection, a journal another run holds, a refused key).

    # crontab: every night at 02:30
    30 2 * * * cd /srv/sellback && PHYGITALS_API_KEY=... python nightly_sellback.py u1

Run against a local sandbox::

    phygitals sandbox --port 8787 &
    export PHYGITALS_API_KEY=sandbox-local PHYGITALS_BASE_URL=http://127.0.0.1:8787/_
    python nightly_sellback.py u1 --journal-dir /tmp
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from pathlib import Path

from phygitals_async import AsyncPhygitals, PhygitalsError

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL = 0, 1, 3


def journal_for(day: dt.date, directory: Path) -> Path:
    """Tonight's journal: one job per day, resumed by any rerun the same day."""
    return directory / f"sellback-{day:%Y-%m-%d}.db"


async def sell_all(user_id: str, journal: Path, *, expiring_within: float | None) -> int:
    """Run (or resume) tonight's job; print its one-line summary; return the exit code."""
    async with AsyncPhygitals(app_name="nightly-sellback") as client:
        inventory = await client.inventory(user_id)
        items = list(inventory.items)
        if expiring_within is not None:
            cutoff = dt.datetime.now(dt.UTC) + dt.timedelta(hours=expiring_within)
            items = [i for i in items if i.buyback_expires_at and i.buyback_expires_at <= cutoff]
        report = await client.sell_back_many(items, concurrency=8, journal=str(journal))
    print(report.summary())
    for failure in (*report.failed, *report.unknown):
        print(f"  {failure.item_id}: {type(failure.error).__name__}: {failure.error}")
    return EXIT_OK if report.ok else EXIT_PARTIAL


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run tonight's job, and turn any SDK error into exit code 1."""
    parser = argparse.ArgumentParser(description="Sell back a user's cards, once a night.")
    parser.add_argument("user_id")
    parser.add_argument("--journal-dir", type=Path, default=Path())
    parser.add_argument("--expiring-within", type=float, metavar="HOURS")
    options = parser.parse_args(argv)
    journal = journal_for(dt.date.today(), options.journal_dir)  # noqa: DTZ011
    try:
        return asyncio.run(
            sell_all(options.user_id, journal, expiring_within=options.expiring_within)
        )
    except PhygitalsError as error:
        print(f"sellback failed: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
