"""The retries guide's table is the retry policy each endpoint's call carries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.endpoints import ENDPOINTS, call_of

from phygitals_async._http._calls import Retry, RetryPolicy

GUIDE = Path(__file__).parents[2] / "docs" / "guides" / "retries.md"

# The guide's short names for the GETs, as SDK methods.
_GETS = {
    "packs": "list_packs",
    "pulls": "recent_pulls",
    "inventory": "inventory",
    "card": "card",
    "order": "ship_order",
}


def _rows() -> list[tuple[str, str]]:
    """(call cell, "resent automatically on" cell) of each row of the guide's table."""
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("| call | resent automatically on |", 1)[1]
    rows = []
    for line in section.splitlines()[2:]:
        if not line.startswith("|"):
            break
        calls, resent = (cell.strip() for cell in line.strip("|").split("|"))
        rows.append((calls, resent))
    return rows


def _methods(calls: str) -> list[str]:
    named = re.findall(r"`(\w+)`", calls)
    grouped = re.search(r"GETs \(([^)]*)\)", calls)
    if grouped:
        named += [_GETS[word.strip()] for word in grouped.group(1).split(",")]
    return named


def _policy(resent: str) -> RetryPolicy:
    """The policy a cell describes; every phrase must be understood."""
    statuses: set[int] = set()
    fields = {"server_errors": False, "after_sent": False, "unreadable_2xx": False}
    for part in resent.split(","):
        phrase = re.sub(r"^only ", "", re.sub(r" \(`[^`]*`\)", "", part.strip()))
        if phrase in {"connection errors", "timeouts"}:
            fields["after_sent"] = True
        elif phrase == "connection errors before the request was sent":
            pass  # every policy resends those
        elif phrase == "5xx":
            fields["server_errors"] = True
        elif phrase == "an unreadable 2xx body":
            fields["unreadable_2xx"] = True
        elif phrase.isdigit():
            statuses.add(int(phrase))
        else:
            pytest.fail(f"the retries guide's table says something new: {phrase!r}")
    return RetryPolicy(statuses=frozenset(statuses), **fields)


ROWS = _rows()


@pytest.mark.parametrize(("calls", "resent"), ROWS, ids=[calls for calls, _ in ROWS])
def test_guide_row_is_the_policy_of_its_calls(calls: str, resent: str) -> None:
    expected = _policy(resent)
    assert expected in {Retry.SAFE, Retry.BUYBACK, Retry.UNSAFE}
    by_name = {endpoint.name: endpoint for endpoint in ENDPOINTS}
    for method in _methods(calls):
        _, call = call_of(by_name[method])
        assert call.retry == expected, method


def test_guide_table_names_every_endpoint_once() -> None:
    named = [method for calls, _ in ROWS for method in _methods(calls)]
    assert sorted(named) == sorted(endpoint.name for endpoint in ENDPOINTS)


@pytest.mark.parametrize(
    ("policy", "status", "resent"),
    [
        (Retry.SAFE, 429, True),
        (Retry.SAFE, 503, True),
        (Retry.SAFE, 400, False),
        (Retry.BUYBACK, 429, True),
        (Retry.BUYBACK, 500, False),
        (Retry.UNSAFE, 429, False),
        (Retry.UNSAFE, 502, False),
    ],
)
def test_policy_statuses(policy: RetryPolicy, status: int, resent: bool) -> None:
    assert policy.retries_status(status) is resent
