"""Errors cross process boundaries: pickle and deepcopy give an equal error, never the key.

Process pools, multiprocessing and task queues (Celery results) pickle the exception a
worker raised; an error that cannot be rebuilt reaches the caller as ``BrokenProcessPool``.
"""

from __future__ import annotations

import copy
import inspect
import multiprocessing
import pickle
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from support import ADDRESS, TOPPS, FakeTime

import phygitals_async as p
from phygitals_async.testing import Fault, LocalSandbox

KEY = "sandbox-Pickle-Secret-4f9c1e"

# A value for each constructor parameter an error class may require.
SAMPLES: dict[str, Any] = {
    "status_code": 400,
    "body": {
        "error": "Invalid destination address",
        "details": "no such street",
        "suggested": {"line1": "123 Main Street", "postal_code": "78701"},
    },
    "method": "POST",
    "url": "http://127.0.0.1:9/_/api/v1/ship/quote",
    "retry_after": 2.5,
    "operation": "buy",
    "arguments": {"pack_id": TOPPS, "amount": 2, "user_id": "u1"},
    "last_status": p.PurchasePending(),
}

# Attributes and properties users read; each must survive the trip where the class has it.
ATTRIBUTES = [
    "args",
    "status_code",
    "message",
    "body",
    "method",
    "url",
    "retry_after",
    "operation",
    "arguments",
    "last_status",
    "details",
    "suggested",
    "limit",
    "headers",
    "request_id",
]


def error_classes() -> list[type[p.PhygitalsError]]:
    """Every exception class the package exports."""
    exported = (getattr(p, name) for name in p.__all__)
    return [c for c in exported if isinstance(c, type) and issubclass(c, p.PhygitalsError)]


def sample(cls: type[p.PhygitalsError]) -> p.PhygitalsError:
    """An instance of ``cls`` with every constructor argument set."""
    params = inspect.signature(cls.__init__).parameters
    message = "Amount must be less than or equal to 5" if cls is p.InvalidAmountError else "boom"
    kwargs: dict[str, Any] = {}
    for name, param in list(params.items())[1:]:
        if param.kind in {param.VAR_POSITIONAL, param.VAR_KEYWORD}:
            continue
        if param.kind is param.KEYWORD_ONLY:
            if name in SAMPLES:
                kwargs[name] = SAMPLES[name]
            else:
                assert param.default is not param.empty, f"add a sample for {cls.__name__}.{name}"
    error = cls(message, **kwargs)
    error.add_note("raised in a worker")
    return error


def assert_same(restored: BaseException, original: BaseException) -> None:
    assert type(restored) is type(original)
    assert restored == original
    assert hash(restored) == hash(original)
    assert str(restored) == str(original)
    assert vars(restored) == vars(original)
    for name in ATTRIBUTES:
        if hasattr(original, name):
            assert getattr(restored, name) == getattr(original, name), name


def raise_it(error: BaseException) -> None:
    """Runs in a pool worker: raise what was sent, so it is pickled back."""
    raise error


@pytest.fixture(scope="module")
def errors() -> list[p.PhygitalsError]:
    return [sample(cls) for cls in error_classes()]


def test_the_tree_is_all_here(errors: list[p.PhygitalsError]) -> None:
    """The round trip covers every exported error class, the whole tree."""
    names = {type(e).__name__ for e in errors}
    assert {"APIStatusError", "RateLimitError", "InvalidAddressError", "PollTimeoutError"} <= names
    assert {"OutcomeUnknownError", "ResponseValidationError", "PollCancelledError"} <= names
    assert len(errors) >= 30


@pytest.mark.parametrize("cls", error_classes(), ids=lambda c: c.__name__)
def test_every_error_pickles_to_an_equal_error(cls: type[p.PhygitalsError]) -> None:
    """pickle.loads(pickle.dumps(e)) has the same class, args and attributes, every protocol."""
    original = sample(cls)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert_same(pickle.loads(pickle.dumps(original, protocol)), original)  # noqa: S301


@pytest.mark.parametrize("cls", error_classes(), ids=lambda c: c.__name__)
def test_every_error_deep_copies_to_an_equal_error(cls: type[p.PhygitalsError]) -> None:
    """copy.deepcopy gives an equal error that shares no mutable attribute with the original."""
    original = sample(cls)
    copied = copy.deepcopy(original)
    assert_same(copied, original)
    assert_same(copy.copy(original), original)
    if hasattr(original, "body"):
        assert copied.__dict__["body"] is not original.__dict__["body"]


def test_the_rich_attributes_survive(errors: list[p.PhygitalsError]) -> None:
    """Status, body, details, suggested, retry_after, limit and the last status come back."""
    by_class = {type(e): pickle.loads(pickle.dumps(e)) for e in errors}  # noqa: S301
    address = by_class[p.InvalidAddressError]
    assert isinstance(address, p.InvalidAddressError)
    assert (address.status_code, address.method, address.url) == (400, "POST", SAMPLES["url"])
    assert address.details == "no such street"
    assert address.suggested == SAMPLES["body"]["suggested"]
    rate = by_class[p.RateLimitError]
    assert isinstance(rate, p.RateLimitError)
    assert rate.retry_after == 2.5
    amount = by_class[p.InvalidAmountError]
    assert isinstance(amount, p.InvalidAmountError)
    assert amount.limit == 5
    poll = by_class[p.PollTimeoutError]
    assert isinstance(poll, p.PollTimeoutError)
    assert poll.last_status == p.PurchasePending()
    unknown = by_class[p.OutcomeUnknownError]
    assert isinstance(unknown, p.OutcomeUnknownError)
    assert (unknown.operation, unknown.arguments) == ("buy", SAMPLES["arguments"])
    assert all(e.__notes__ == ["raised in a worker"] for e in by_class.values())


def test_equality_is_by_class_and_value() -> None:
    """Errors are equal when class, args and attributes are; otherwise they differ."""
    common: dict[str, Any] = {"status_code": 400, "body": {}, "method": "POST"}
    first = p.ItemNotFoundError("Item not found", url="u", **common)
    same = p.ItemNotFoundError("Item not found", url="u", **common)
    other_url = p.ItemNotFoundError("Item not found", url="v", **common)
    parent = p.BadRequestError("Item not found", url="u", **common)
    assert first == same
    assert hash(first) == hash(same)
    assert first != other_url
    assert first != parent
    assert first != ValueError("400 Item not found")
    assert len({first, same, parent}) == 2


def test_every_error_crosses_a_process_pool(errors: list[p.PhygitalsError]) -> None:
    """Raised in a ProcessPoolExecutor worker, each error reaches the caller equal, not broken."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(raise_it, error) for error in errors]
        for error, future in zip(errors, futures, strict=True):
            raised = future.exception(timeout=30)
            assert raised is not None
            assert_same(raised, error)


@pytest_asyncio.fixture
async def keyed(sandbox: LocalSandbox, fake_time: FakeTime) -> AsyncIterator[p.AsyncPhygitals]:
    async with sandbox.client(KEY, max_retries=0) as c:
        fake_time.attach(c)
        yield c


async def real_errors(client: p.AsyncPhygitals, sandbox: LocalSandbox) -> list[p.PhygitalsError]:
    """Errors the SDK raised from real responses of the local sandbox."""
    caught: list[p.PhygitalsError] = []
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    item = purchase.nfts[0]
    await client.sell_back(item)
    sandbox.faults.add(Fault.status(429, retry_after=3, route="vm/available", count=1))
    sandbox.production.pending_polls = 10_000
    pending = await client.buy(TOPPS, amount=1, user_id="u2")
    sandbox.faults.add(Fault.drop_after(route="vm/buy/init", count=1))
    bad_address = {**ADDRESS, "line1": ""}
    attempts = [
        client.sell_back(item),
        client.list_packs(),
        client.buy(TOPPS, amount=1, user_id="u1"),
        client.wait_for_purchase(pending.session_id, interval=1, timeout=5),
        client.inventory("nobody"),
        client.ship_quote([purchase.nfts[0]], destination=bad_address),
    ]
    for attempt in attempts:
        try:
            await attempt
        except p.PhygitalsError as exc:
            caught.append(exc)
    return caught


async def test_errors_from_real_responses_round_trip_without_the_key(
    keyed: p.AsyncPhygitals, sandbox: LocalSandbox
) -> None:
    """Errors from sandbox answers pickle to equal errors; their bytes never hold the key."""
    caught = await real_errors(keyed, sandbox)
    kinds = {type(e) for e in caught}
    assert {p.ItemNotFoundError, p.RateLimitError, p.OutcomeUnknownError} <= kinds
    assert {p.PollTimeoutError, p.UserNotFoundError, p.InvalidAddressError} <= kinds
    for error in caught:
        data = pickle.dumps(error)
        assert KEY.encode() not in data
        assert_same(pickle.loads(data), error)  # noqa: S301
        assert_same(copy.deepcopy(error), error)
    rate = next(e for e in caught if isinstance(e, p.RateLimitError))
    assert pickle.loads(pickle.dumps(rate)).retry_after == 3  # noqa: S301
    timeout = next(e for e in caught if isinstance(e, p.PollTimeoutError))
    assert isinstance(timeout.last_status, p.PurchasePending)


def test_decimal_and_model_attributes_pickle() -> None:
    """Attributes holding models and Decimals come back equal (no JSON detour)."""
    error = p.OutcomeUnknownError(
        "maybe sold", operation="sell_back", arguments={"item_id": "i1", "quoted": Decimal("1.10")}
    )
    restored = pickle.loads(pickle.dumps(error))  # noqa: S301
    assert restored.arguments["quoted"] == Decimal("1.10")
    assert_same(restored, error)
