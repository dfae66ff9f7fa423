"""The shared journal's SQL: its tables and the statements that claim, begin and settle.

Kept apart from the backend so the statements read as one piece, with :func:`entry`, which
reads a row of items back as the entry it records. Every statement is one transaction of
its own (the connection is in autocommit mode) unless the backend wraps it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ._protocol import JournalEntry, JournalState

__all__ = [
    "ADD",
    "BEGIN",
    "CLAIM",
    "COLUMNS",
    "HOLDERS",
    "PENDING",
    "RELEASE",
    "RENEW",
    "RETRYABLE",
    "SETTLE",
    "TABLES",
    "entry",
]

# Lock order: every statement that waits for row locks takes them in job order (position),
# so no two statements can wait on each other; those that must not wait (claims, lease
# renewals) skip locked rows instead.

TABLES = """
CREATE TABLE IF NOT EXISTS phygitals_journal_job (
    job             text PRIMARY KEY,
    schema_version  integer NOT NULL,
    base_url        text NOT NULL,
    user_id         text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    runs            integer NOT NULL DEFAULT 0,
    next_position   bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS phygitals_journal_item (
    job             text NOT NULL REFERENCES phygitals_journal_job (job) ON DELETE CASCADE,
    item_id         text NOT NULL,
    position        bigint NOT NULL,
    state           text NOT NULL DEFAULT 'pending',
    quoted_amount   numeric,
    amount          numeric,
    error_type      text,
    error_message   text,
    status_code     integer,
    retry           boolean NOT NULL DEFAULT false,
    attempts        integer NOT NULL DEFAULT 0,
    begun_at        timestamptz,
    settled_at      timestamptz,
    worker          text,
    lease_until     timestamptz,
    PRIMARY KEY (job, item_id)
);
CREATE INDEX IF NOT EXISTS phygitals_journal_item_todo
    ON phygitals_journal_item (job, position) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS phygitals_journal_item_retryable
    ON phygitals_journal_item (job, position)
    WHERE state = 'unknown' OR (state = 'failed' AND retry);
CREATE INDEX IF NOT EXISTS phygitals_journal_item_order
    ON phygitals_journal_item (job, position);
-- What a worker holds, for renewing and giving back its leases without reading the rest.
CREATE INDEX IF NOT EXISTS phygitals_journal_item_held
    ON phygitals_journal_item (job, worker) WHERE state = 'pending';
-- No foreign key to the job: its check would lock the job's row on every heartbeat, and
-- a worker adding items holds that row while it waits for rows a renewal has locked.
CREATE TABLE IF NOT EXISTS phygitals_journal_worker (
    job             text NOT NULL,
    worker          text NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    heartbeat_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job, worker)
);
"""

# Claims: the next items nobody holds (or whose holder's lease expired), in job order, begun
# in the same statement (one round trip for both). The row as it was comes back, so the
# caller sees ``attempts > 0`` for an item a buyback may already have been sent for.
# SKIP LOCKED lets concurrent claimers pass over each other's rows instead of waiting, and
# the row lock held until commit makes the claim atomic. {todo} is one of the two partial
# indexes' predicates, so a claim never scans settled rows, even deep into a large job.
CLAIM = """
WITH picked AS (
    SELECT item_id, state, amount, error_type, error_message, status_code, retry, begun_at,
        settled_at
    FROM phygitals_journal_item
    WHERE job = %(job)s AND {todo}
      AND (lease_until IS NULL OR lease_until < now())
    ORDER BY position
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE phygitals_journal_item AS i
SET state = 'pending', attempts = i.attempts + 1, begun_at = now(), settled_at = NULL,
    amount = NULL, error_type = NULL, error_message = NULL, status_code = NULL, retry = false,
    worker = %(worker)s, lease_until = now() + make_interval(secs => %(lease)s)
FROM picked
WHERE i.job = %(job)s AND i.item_id = picked.item_id
RETURNING i.item_id, i.position, picked.state, i.quoted_amount, picked.amount,
    picked.error_type, picked.error_message, picked.status_code, picked.retry,
    i.attempts - 1, picked.begun_at, picked.settled_at
"""
PENDING = "state = 'pending'"
# Retryable outcomes (unknown, or a failure worth another try) are taken again only when
# settled before this worker opened the job: once per run, never in a loop within one.
RETRYABLE = "(state = 'unknown' OR (state = 'failed' AND retry)) AND settled_at < %(since)s"

# begin(): the caller's items that are still to do and free (or already its own), now
# counted as possibly sent. Retryable failures and unknowns may be begun again. It waits
# for row locks rather than skipping them: a concurrent claim may be passing over the
# caller's own rows for an instant. Locking in job order keeps two begins deadlock-free.
BEGIN = """
WITH picked AS (
    SELECT item_id FROM phygitals_journal_item
    WHERE job = %(job)s AND item_id = ANY(%(ids)s)
      AND (state IN ('pending', 'unknown') OR (state = 'failed' AND retry))
      AND (lease_until IS NULL OR lease_until < now() OR worker = %(worker)s)
    ORDER BY position
    FOR UPDATE
)
UPDATE phygitals_journal_item AS i
SET state = 'pending', attempts = i.attempts + 1, begun_at = now(), settled_at = NULL,
    amount = NULL, error_type = NULL, error_message = NULL, status_code = NULL,
    retry = false, worker = %(worker)s,
    lease_until = now() + make_interval(secs => %(lease)s)
FROM picked
WHERE i.job = %(job)s AND i.item_id = picked.item_id
RETURNING i.item_id
"""

SETTLE = """
WITH s AS (
    -- One JSON text for the group: the server reads it, where eight arrays would each be
    -- written element by element on the client. Amounts travel as strings, read exactly.
    SELECT * FROM json_to_recordset(%(rows)s::json)
        AS s(item_id text, state text, amount numeric, quoted_amount numeric, error_type text,
             error_message text, status_code integer, retry boolean)
), locked AS (
    -- Looked up by key, one row per outcome: a join with the job's rows would let the
    -- planner scan all of them (it did, for 17 ms a group of 20 in a 20,000-item job).
    SELECT i.item_id FROM phygitals_journal_item AS i
    WHERE i.job = %(job)s AND i.item_id = ANY(ARRAY(SELECT item_id FROM s))
    ORDER BY i.position
    FOR UPDATE OF i
)
UPDATE phygitals_journal_item AS i
SET state = s.state, amount = s.amount,
    quoted_amount = COALESCE(s.quoted_amount, i.quoted_amount),
    error_type = s.error_type, error_message = s.error_message, status_code = s.status_code,
    retry = s.retry, settled_at = now(), worker = NULL, lease_until = NULL
FROM s JOIN locked USING (item_id)
WHERE i.job = %(job)s AND i.item_id = ANY(ARRAY(SELECT item_id FROM locked))
  AND i.item_id = s.item_id AND (
    (i.state = 'pending'
     AND (i.worker = %(worker)s OR i.worker IS NULL OR i.lease_until < now()))
    OR (s.state = 'sold' AND i.state <> 'sold' AND NOT (i.state = 'failed' AND NOT i.retry))
  )
"""

ADD = """
WITH given AS (
    SELECT g.item_id, g.quoted_amount, %(start)s + g.n AS position
    FROM unnest(%(ids)s::text[], %(quotes)s::numeric[]) WITH ORDINALITY
        AS g(item_id, quoted_amount, n)
)
INSERT INTO phygitals_journal_item AS i (job, item_id, position, quoted_amount)
SELECT %(job)s, item_id, position, quoted_amount FROM given
ON CONFLICT (job, item_id) DO UPDATE SET quoted_amount = EXCLUDED.quoted_amount
    WHERE i.quoted_amount IS NULL AND EXCLUDED.quoted_amount IS NOT NULL
RETURNING (xmax = 0) AS inserted
"""

COLUMNS = (
    "item_id, position, state, quoted_amount, amount, error_type, error_message,"
    " status_code, retry, attempts, begun_at, settled_at, worker, lease_until"
)


def entry(row: tuple[Any, ...]) -> JournalEntry:
    """A row of :data:`COLUMNS` (or of a claim, which has its first twelve) as an entry."""
    (item_id, position, state, quoted, amount, etype, message, code, retry, attempts) = row[:10]
    begun_at: datetime | None = row[10]
    settled_at: datetime | None = row[11]
    return JournalEntry(
        item_id=item_id,
        position=position,
        state=JournalState(state),
        quoted_amount=quoted,
        amount=amount,
        error_type=etype,
        error_message=message,
        status_code=code,
        retry=retry,
        attempts=attempts,
        begun_at=begun_at,
        settled_at=settled_at,
        worker=row[12] if len(row) > 12 else None,
        lease_until=row[13] if len(row) > 13 else None,
    )


# Who holds what: each worker with unsettled items (or a heartbeat), the items it holds,
# when its soonest and latest leases end, and its last heartbeat.
HOLDERS = """
SELECT COALESCE(h.worker, w.worker), COALESCE(h.items, 0), h.soonest, h.latest,
    w.heartbeat_at, COALESCE(h.soonest, now()) < now()
FROM (
    SELECT worker, count(*) AS items, min(lease_until) AS soonest, max(lease_until) AS latest
    FROM phygitals_journal_item
    WHERE job = %(job)s AND state = 'pending' AND worker IS NOT NULL
    GROUP BY worker
) AS h
FULL JOIN (
    -- Workers holding nothing are listed while they beat (a dead one drops off).
    SELECT worker, heartbeat_at FROM phygitals_journal_worker
    WHERE job = %(job)s AND heartbeat_at > now() - interval '10 minutes'
) AS w
    ON w.worker = h.worker
ORDER BY 1
"""

# A live worker's leases, renewed; rows another statement has locked right now are being
# settled or taken over, and are skipped rather than waited for.
RENEW = """
WITH beat AS (
    INSERT INTO phygitals_journal_worker (job, worker) VALUES (%(job)s, %(worker)s)
    ON CONFLICT (job, worker) DO UPDATE SET heartbeat_at = now()
    RETURNING worker
), mine AS (
    SELECT item_id FROM phygitals_journal_item
    WHERE job = %(job)s AND worker = %(worker)s AND state = 'pending'
    ORDER BY position
    FOR UPDATE SKIP LOCKED
)
UPDATE phygitals_journal_item AS i
SET lease_until = now() + make_interval(secs => %(lease)s)
WHERE i.job = %(job)s AND i.item_id = ANY(ARRAY(SELECT item_id FROM mine))
"""

# A stopping worker gives back what it still holds.
RELEASE = """
WITH mine AS (
    SELECT item_id FROM phygitals_journal_item
    WHERE job = %(job)s AND worker = %(worker)s AND state = 'pending'
      {only}
    ORDER BY position
    FOR UPDATE
)
UPDATE phygitals_journal_item AS i
SET worker = NULL, lease_until = NULL
WHERE i.job = %(job)s AND i.item_id = ANY(ARRAY(SELECT item_id FROM mine))
"""
