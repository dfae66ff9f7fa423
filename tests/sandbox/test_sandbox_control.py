"""The sandbox's control API over plain HTTP: every control, and bad input as a JSON 4xx."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from support import TOPPS

from phygitals_async import AsyncPhygitals, ItemExpiredError, OutcomeUnknownError
from phygitals_async.testing import Fault, LocalSandbox, ProductionBehaviours
from phygitals_async.testing._specs import SpecError, parse_duration, parse_fault_spec

JSON = {"Content-Type": "application/json"}


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest_asyncio.fixture
async def client(sandbox: LocalSandbox) -> AsyncIterator[AsyncPhygitals]:
    async with sandbox.client(max_retries=0) as running:
        yield running


async def call(
    http: aiohttp.ClientSession,
    sandbox: LocalSandbox,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    url = f"{sandbox.root_url}/_sandbox/api/{path}"
    if body is None:
        async with http.get(url, headers=headers) as response:
            return response.status, await response.json(content_type=None)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with http.post(url, data=data, headers=headers or JSON) as response:
        return response.status, await response.json(content_type=None)


async def test_the_dashboards_polling_takes_no_request_ids(
    sandbox: LocalSandbox, client: AsyncPhygitals, http: aiohttp.ClientSession
) -> None:
    """Partner calls get consecutive X-Request-Ids, whatever the dashboard reads between."""
    first = await client.with_raw_response(client.list_packs)()
    for _ in range(3):
        assert (await call(http, sandbox, "state"))[0] == 200
    second = await client.with_raw_response(client.list_packs)()
    numbers = [int(r.request_id.rsplit("_", 1)[1]) for r in (first, second) if r.request_id]
    assert numbers[1] == numbers[0] + 1


async def test_state_shows_what_the_sdk_did(
    sandbox: LocalSandbox, client: AsyncPhygitals, http: aiohttp.ClientSession
) -> None:
    """A purchase, a sale and their requests appear in the state, newest first, key redacted."""
    purchase = await client.buy(TOPPS, amount=2, user_id="u1")
    sale = await client.sell_back(purchase.nfts[0].id)
    status, state = await call(http, sandbox, "state")
    assert status == 200
    (bought,) = state["purchases"]
    assert (bought["session_id"], bought["user_id"], bought["amount"]) == (
        purchase.session_id,
        "u1",
        2,
    )
    assert (bought["pack"], bought["status"]) == ("Topps Chrome 2024", "fulfilled")
    (sold,) = state["sellbacks"]["items"]
    assert (sold["item_id"], sold["user_id"]) == (purchase.nfts[0].id, "u1")
    assert Decimal(sold["amount"]) == sale.amount == Decimal(state["sellbacks"]["total_paid"])
    (user,) = state["users"]
    assert (user["user_id"], user["items"]) == ("u1", 1)
    assert Decimal(user["buyback_total"]) == purchase.nfts[1].buyback_price
    newest = state["requests"][0]
    assert (newest["method"], newest["path"], newest["status"]) == (
        "POST",
        "/_/api/v1/vm/buyback",
        200,
    )
    assert newest["request_id"].startswith("req_sandbox_")
    assert {r["key"] for r in state["requests"]} == {"sandbox-…"}
    assert "sandbox-local" not in json.dumps(state)


async def test_each_control_acts_on_the_sandbox(
    sandbox: LocalSandbox, client: AsyncPhygitals, http: aiohttp.ClientSession
) -> None:
    """Seed, advance, add and clear faults, reset: each one seen through the SDK."""
    status, seeded = await call(http, sandbox, "seed", {"user_id": "qa", "count": 3})
    assert status == 200
    inventory = await client.inventory("qa")
    assert [item.id for item in inventory.items] == seeded["item_ids"]
    assert (await call(http, sandbox, "advance", {"by": "8d"}))[0] == 200
    with pytest.raises(ItemExpiredError):
        await client.sell_back(inventory.items[0].id)
    await call(http, sandbox, "reset", {})
    purchase = await client.buy(TOPPS, amount=2, user_id="u1")
    fault = {"route": "vm/buyback", "fault": "drop_after", "times": 1}
    status, added = await call(http, sandbox, "faults", fault)
    assert (status, added["fired"], added["times"]) == (200, 0, 1)
    with pytest.raises(OutcomeUnknownError):
        await client.sell_back(purchase.nfts[0].id)
    _, state = await call(http, sandbox, "state")
    assert [f["fired"] for f in state["faults"]] == [1]
    await call(http, sandbox, "faults", {"route": "vm/buyback", "fault": "status", "every": True})
    assert (await call(http, sandbox, "faults/clear", {}))[0] == 200
    await client.sell_back(purchase.nfts[1].id)
    assert sandbox.ledger.purchases == 1
    status, fresh = await call(http, sandbox, "reset", {})
    assert status == 200
    assert (fresh["users"], fresh["purchases"], fresh["requests"]) == ([], [], [])
    assert sandbox.ledger.purchases == 0
    assert sandbox.ledger.amount_paid == 0


async def test_the_ledger_answers_per_user(
    sandbox: LocalSandbox, client: AsyncPhygitals, http: aiohttp.ClientSession
) -> None:
    """What was paid for one user's items: in the API, on the user, and in the testing kit."""
    mine = await client.buy(TOPPS, amount=1, user_id="me")
    theirs = await client.buy(TOPPS, amount=1, user_id="them")
    sale = await client.sell_back(mine.nfts[0].id)
    await client.sell_back(theirs.nfts[0].id)
    assert sandbox.ledger.paid_to("me") == sale.amount
    assert sandbox.ledger.sold_for("me") == {mine.nfts[0].id: sale.amount}
    status, ledger = await call(http, sandbox, "ledger?user_id=me")
    assert (status, ledger["amount_paid"]) == (200, str(sale.amount))
    assert ledger["sold"] == {mine.nfts[0].id: str(sale.amount)}
    status, user = await call(http, sandbox, "users/me")
    assert (status, user["paid"], user["owned"]) == (200, str(sale.amount), [])
    _, everything = await call(http, sandbox, "ledger")
    assert everything["sellers"] == {mine.nfts[0].id: "me", theirs.nfts[0].id: "them"}


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("faults", {"route": "vm/nowhere", "fault": "drop_after"}, 400),
        ("faults", {"route": "vm/buyback", "fault": "explode"}, 400),
        ("faults", {"route": "vm/buyback", "fault": "drop_after", "times": 0}, 400),
        ("faults", {"route": "vm/buyback", "fault": "drop_after", "times": "x"}, 400),
        ("faults", {"route": "card", "fault": "latency", "seconds": "soon"}, 400),
        ("faults", {"route": "card", "fault": "status", "status": 200}, 400),
        ("faults", {"route": "card", "fault": "drop_after", "probability": 2}, 400),
        ("faults", {"route": "card", "fault": "drop_after", "times": 1, "probability": 0.5}, 400),
        ("faults", {"route": "card", "fault": "drop_after", "times": 2, "every": True}, 400),
        ("faults", {"route": "card", "fault": "drop_after", "times": 0, "probability": 0.5}, 400),
        ("seed", {"user_id": "u", "count": -1}, 400),
        ("seed", {"user_id": "u", "count": 10_000}, 400),
        ("seed", {"user_id": "", "count": 1}, 400),
        ("seed", {"count": 1}, 400),
        ("advance", {"by": "next tuesday"}, 400),
        ("advance", {"by": -5}, 400),
        ("advance", {"by": "1e400"}, 400),
        ("advance", {}, 400),
        ("advance", b"not json", 400),
        ("advance", b"[1, 2]", 400),
        ("advance", b"[" * 100_000, 400),
        ("nowhere", {}, 404),
        ("users/nobody", None, 404),
        ("requests?limit=lots", None, 400),
        ("state/extra", None, 404),
    ],
)
async def test_bad_input_is_a_json_4xx_never_a_500(
    sandbox: LocalSandbox, http: aiohttp.ClientSession, path: str, body: Any, status: int
) -> None:
    """Unknown routes, negative counts, unreadable durations, non-JSON: 4xx with an error."""
    answer = await call(http, sandbox, path, body)
    assert answer[0] == status
    assert isinstance(answer[1]["error"], str)
    assert answer[1]["error"]
    assert sandbox.faults.rules == []
    assert sandbox.state.users == {}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Content-Type": "text/plain"}, 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
        ({**JSON, "Origin": "https://evil.example"}, 403),
        ({**JSON, "Origin": "null"}, 403),
        ({**JSON, "Sec-Fetch-Site": "cross-site"}, 403),
        ({**JSON, "Host": "evil.example"}, 403),
    ],
)
async def test_controls_from_elsewhere_are_refused(
    sandbox: LocalSandbox,
    client: AsyncPhygitals,
    http: aiohttp.ClientSession,
    headers: dict[str, str],
    status: int,
) -> None:
    """No JSON content type, another origin or a rebound host name: refused, nothing done."""
    await client.buy(TOPPS, amount=1, user_id="u1")
    answer = await call(http, sandbox, "reset", {}, headers)
    assert answer[0] == status
    assert "error" in answer[1]
    assert sandbox.ledger.purchases == 1


async def test_the_page_is_served_offline_with_a_strict_policy(
    sandbox: LocalSandbox, http: aiohttp.ClientSession
) -> None:
    """The page, its script and style come from the package; no other host is named."""
    async with http.get(sandbox.root_url + "/_sandbox") as response:
        assert str(response.url) == sandbox.dashboard_url
        page = await response.text()
        policy = response.headers["Content-Security-Policy"]
    assert "<title>Phygitals sandbox</title>" in page
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    for name in ("dashboard.js", "dashboard.css"):
        async with http.get(f"{sandbox.dashboard_url}static/{name}") as response:
            assert response.status == 200
            text = await response.text()
        assert "http://" not in text
        assert "https://" not in text
        assert not re.search(r"\.(inner|outer)HTML\b|insertAdjacentHTML|document\.write", text)
    async with http.get(sandbox.dashboard_url + "static/..%2f_server.py") as response:
        assert response.status == 404


async def test_the_dashboard_can_be_turned_off(http: aiohttp.ClientSession) -> None:
    """dashboard=False: no page, no control API, and no dashboard_url."""
    async with LocalSandbox(dashboard=False) as sandbox:
        async with http.get(sandbox.root_url + "/_sandbox/api/state") as response:
            assert response.status == 404
        with pytest.raises(RuntimeError, match="dashboard=False"):
            _ = sandbox.dashboard_url


async def test_reset_keeps_the_start_up_faults_and_behaviours() -> None:
    """After reset the initial faults (fired 0) and production behaviours are back."""
    production = ProductionBehaviours(pending_polls=2)
    faults = [Fault.status(503, route="inventory", count=1)]
    async with LocalSandbox(initial_faults=faults, production=production) as sandbox:
        sandbox.faults.rules[0].fired = 1
        sandbox.faults.add(Fault.drop_after(route="card"))
        sandbox.production.pending_polls = 0
        sandbox.clock.advance(days=3)
        before = sandbox.clock.now()
        sandbox.reset()
        assert [(f.route, f.fired) for f in sandbox.faults.rules] == [("inventory", 0)]
        assert sandbox.production.pending_polls == 2
        assert sandbox.clock.now() < before


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90m", 5400.0), ("8d", 691200.0), ("1.5h", 5400.0), ("80ms", 0.08), ("30", 30.0)],
)
def test_durations_read_as_people_write_them(text: str, seconds: float) -> None:
    """Minutes, days, hours, milliseconds, or plain seconds."""
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "-5", "5y", "1e9", "inf", "99999d"])
def test_unreadable_durations_say_what_is_expected(text: str) -> None:
    """Anything else is a SpecError naming the accepted forms."""
    with pytest.raises(SpecError, match=r"duration|between"):
        parse_duration(text)


def test_fault_specs_read_route_kind_value_and_how_often() -> None:
    """ROUTE:FAULT[=VALUE][:N|P%], as `phygitals sandbox --fault` takes it."""
    drop = parse_fault_spec("vm/buyback:drop_after:5%")
    assert (drop.route, drop.kind.value, drop.probability, drop.count) == (
        "vm/buyback",
        "drop_after",
        0.05,
        None,
    )
    status = parse_fault_spec("inventory:status=429:2")
    assert (status.status_code, status.count) == (429, 2)
    slow = parse_fault_spec("*:latency=200ms")
    assert (slow.route, slow.seconds, slow.count, slow.probability) == (None, 0.2, None, None)
    for bad in (
        "vm/buyback",
        "vm/buyback:drop_after=3",
        "x:drop_after",
        "card:status:0%",
        "a:b:c:d",
    ):
        with pytest.raises(SpecError):
            parse_fault_spec(bad)


def test_sandbox_command_starts_with_faults_latency_and_pending_polls() -> None:
    """`phygitals sandbox --latency --fault --pending-polls`: active and shown from the start."""
    command = [sys.executable, "-m", "phygitals_async.testing", "--port", "0", "--json"]
    command += ["--latency", "10ms", "--fault", "vm/buyback:drop_after:1", "--pending-polls", "1"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:  # noqa: S603
        try:
            assert server.stdout is not None
            served = json.loads(server.stdout.readline())
            import urllib.request  # noqa: PLC0415  only this test reads over urllib

            with urllib.request.urlopen(served["dashboard_url"] + "api/state", timeout=10) as r:  # noqa: S310
                state = json.loads(r.read())
        finally:
            server.terminate()
    assert [(f["route"], f["fault"]) for f in state["faults"]] == [
        ("*", "latency"),
        ("vm/buyback", "drop_after"),
    ]
    assert state["faults"][0]["seconds"] == pytest.approx(0.01)


def test_sandbox_command_refuses_an_unreadable_fault() -> None:
    """A fault it cannot read is a usage error (exit 2) naming the accepted routes."""
    done = subprocess.run(
        [sys.executable, "-m", "phygitals_async.testing", "--fault", "vm/nope:drop_after"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "unknown route 'vm/nope'" in done.stderr
