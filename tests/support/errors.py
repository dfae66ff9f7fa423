"""The documented error answers of every endpoint, as a table both error suites run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

import phygitals_async as p
from support import ADDRESS

Call = Callable[[p.AsyncPhygitals], Awaitable[object]]
KEY = "sandbox-test-key"


B = "/_/api/v1"


ENDPOINTS: dict[str, tuple[str, str, Call]] = {
    "packs": ("GET", f"{B}/vm/available", lambda c: c.list_packs()),
    "pulls": ("GET", f"{B}/vm/recent-pulls", lambda c: c.recent_pulls()),
    "buy": ("POST", f"{B}/vm/buy/init", lambda c: c.buy("pk", amount=1, user_id="u")),
    "status": ("POST", f"{B}/vm/buy/status", lambda c: c.purchase_status("s")),
    "inventory": ("GET", f"{B}/inventory/u", lambda c: c.inventory("u")),
    "card": ("GET", f"{B}/card/i", lambda c: c.card("i")),
    "sellback": ("POST", f"{B}/vm/buyback", lambda c: c.sell_back("i")),
    "quote": ("POST", f"{B}/ship/quote", lambda c: c.ship_quote(["i"], destination=ADDRESS)),
    "request": ("POST", f"{B}/ship/request", lambda c: c.ship_request("q_rate_x")),
    "order": ("GET", f"{B}/ship/order/o", lambda c: c.ship_order("o")),
}


DOCUMENTED: list[tuple[str, int, str, type[p.APIStatusError]]] = [
    ("pulls", 500, "An unexpected error occurred", p.ServerError),
    ("buy", 400, "Claw machine is out of stock", p.OutOfStockError),
    ("buy", 400, "Amount must be greater than 0", p.InvalidAmountError),
    ("buy", 400, "Amount must be less than or equal to 5", p.InvalidAmountError),
    ("buy", 400, "VM not found", p.PackNotFoundError),
    ("buy", 400, "user_id is required", p.BadRequestError),
    ("buy", 500, "Error during transaction", p.ServerError),
    ("status", 400, "Transaction failed", p.TransactionFailedError),
    ("inventory", 404, "User not found", p.UserNotFoundError),
    ("inventory", 500, "An unexpected error occurred", p.ServerError),
    ("card", 404, "Card not found", p.CardNotFoundError),
    ("sellback", 400, "Item not found", p.ItemNotFoundError),
    ("sellback", 400, "Item has expired", p.ItemExpiredError),
    ("sellback", 400, "Transaction failed", p.TransactionFailedError),
    ("sellback", 400, "Item already has an active buyback session", p.BuybackInProgressError),
    (
        "sellback",
        429,
        "A buyback request for this item is already being processed",
        p.RateLimitError,
    ),
    ("sellback", 500, "An unexpected error occurred", p.ServerError),
    ("quote", 400, "item_ids is required", p.BadRequestError),
    ("quote", 400, "Invalid destination address", p.InvalidAddressError),
    ("quote", 400, "Item not found", p.ItemNotFoundError),
    ("quote", 400, "No shippable items in request", p.NoShippableItemsError),
    ("quote", 422, "Country not supported", p.CountryNotSupportedError),
    ("quote", 500, "Failed to fetch shipping rates", p.ServerError),
    ("request", 400, "quote_id is required", p.BadRequestError),
    ("request", 400, "Quote expired", p.QuoteExpiredError),
    ("request", 400, "Item already shipped", p.ItemAlreadyShippedError),
    ("request", 500, "Failed to create shipping request", p.ServerError),
    ("order", 404, "Order not found", p.OrderNotFoundError),
    ("order", 500, "An unexpected error occurred", p.ServerError),
    *[(name, 401, "Invalid API key", p.AuthenticationError) for name in ENDPOINTS],
]


# The table as test cases; tests/http/test_aioresponses.py runs the same cases with aiohttp mocked.
documented_answers = pytest.mark.parametrize(
    ("endpoint", "status", "message", "expected"),
    DOCUMENTED,
    ids=[f"{e}-{s}-{m[:30]}" for e, s, m, _ in DOCUMENTED],
)


def assert_documented_error(
    error: p.APIStatusError,
    expected: type[p.APIStatusError],
    status: int,
    message: str,
    method: str,
) -> None:
    """``error`` is exactly ``expected``, with the answer's status, message, body and method."""
    assert type(error) is expected
    assert (error.status_code, error.message, error.body) == (status, message, {"error": message})
    assert error.method == method
