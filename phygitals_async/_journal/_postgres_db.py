"""The shared journal's connection to PostgreSQL: psycopg and its failures in one place.

psycopg is the optional ``postgres`` extra, imported only when a connection is opened.
Whatever goes wrong in the database reaches the run as a journal error: unreachable or gone
(:class:`JournalUnavailableError`), tables that are not a journal's
(:class:`JournalCorruptedError`), any other refusal (:class:`JournalError`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _errors

if TYPE_CHECKING:
    import psycopg

__all__ = ["Database"]

_DEADLOCK_RETRIES = 3


class Database:
    """The journal's database, and the one connection its statements run on.

    Args:
        conninfo: what libpq connects with (the URL without the journal's own parameters).
        where: host, port and database, for messages: never the password.
    """

    def __init__(self, conninfo: str, where: str) -> None:
        self._conninfo = conninfo
        self.where = where
        #: The connection statements run on; ``None`` until :meth:`open`, and after close.
        self.connection: psycopg.AsyncConnection[tuple[Any, ...]] | None = None

    def unavailable(self, exc: BaseException) -> _errors.JournalUnavailableError:
        """The error for a database that cannot be reached, or went away."""
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return _errors.JournalUnavailableError(
            f"the journal database {self.where} is unavailable: {detail}"
        )

    async def connect(self, timeout: float) -> psycopg.AsyncConnection[tuple[Any, ...]]:
        """A new connection, on which each statement is its own transaction."""
        try:
            import psycopg  # noqa: PLC0415  the optional extra is needed only here
        except ImportError:
            msg = (
                "a postgresql:// journal needs the postgres extra:"
                " pip install 'phygitals-async[postgres]' (from a checkout of the SDK:"
                " pip install '.[postgres]')"
            )
            raise _errors.JournalError(msg) from None
        try:
            return await psycopg.AsyncConnection.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=max(1, round(timeout)),
                application_name="phygitals-journal",
                prepare_threshold=None,
            )
        except psycopg.ProgrammingError as exc:  # libpq could not parse the URL
            msg = f"the journal URL for {self.where} is not valid: {exc}"
            raise _errors.JournalError(msg) from None
        except psycopg.Error as exc:
            raise self.unavailable(exc) from None

    async def open(self, timeout: float) -> None:
        """Open the connection statements run on (in place of one a cancellation cost)."""
        self.connection = await self.connect(timeout)

    async def execute(self, query: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Run one statement (its own transaction); database loss is a journal error."""
        import psycopg  # noqa: PLC0415  loaded by connect already
        from psycopg import pq  # noqa: PLC0415  ditto

        if self.connection is None:
            msg = "the journal is not open"
            raise _errors.JournalError(msg)
        try:
            tries = 1
            while True:
                try:
                    cursor = await self.connection.execute(query, params)
                    return await cursor.fetchall() if cursor.description else []
                except psycopg.errors.DeadlockDetected:
                    # Should not happen (one lock order everywhere), and is harmless if it
                    # does: the server rolled the statement back, so it can run again,
                    # unless it was part of a larger transaction.
                    idle = self.connection.info.transaction_status is pq.TransactionStatus.IDLE
                    if tries >= _DEADLOCK_RETRIES or not idle:
                        raise
                    tries += 1
        except (psycopg.errors.UndefinedColumn, psycopg.errors.UndefinedTable) as exc:
            msg = f"the journal tables in {self.where} are not a phygitals journal: {exc}"
            raise _errors.JournalCorruptedError(msg) from None
        except psycopg.errors.DeadlockDetected as exc:
            msg = f"the journal database {self.where} kept refusing a statement: {exc}"
            raise _errors.JournalError(msg) from None
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise self.unavailable(exc) from None
        except psycopg.Error as exc:
            msg = f"the journal database {self.where} refused a statement: {exc}"
            raise _errors.JournalError(msg) from None

    def transaction(self) -> Any:
        """A transaction around the statements run in it (``async with``)."""
        if self.connection is None:
            msg = "the journal is not open"
            raise _errors.JournalError(msg)
        return self.connection.transaction()

    async def close(self) -> None:
        """Close the connection statements run on, if it is open."""
        connection, self.connection = self.connection, None
        if connection is not None:
            await connection.close()
