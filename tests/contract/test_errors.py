"""Every documented error answer becomes its precise class, with status, message and body."""

from __future__ import annotations

import ast
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from support import ADDRESS, Recorder
from support.errors import ENDPOINTS, KEY, B, assert_documented_error, documented_answers

import phygitals_async as p
from phygitals_async import _errors
from phygitals_async._decode._converter import STRICT_ENV
from phygitals_async._errors import error_class_for


@pytest_asyncio.fixture
async def api(recorder: Recorder) -> AsyncIterator[p.AsyncPhygitals]:
    async with p.AsyncPhygitals(api_key=KEY, base_url=recorder.url + "/_", max_retries=0) as c:
        yield c


@documented_answers
async def test_documented_error_maps_to_its_class(
    recorder: Recorder,
    api: p.AsyncPhygitals,
    endpoint: str,
    status: int,
    message: str,
    expected: type[p.APIStatusError],
) -> None:
    """Each documented (status, error) answer raises exactly the documented class."""
    method, path, call = ENDPOINTS[endpoint]
    recorder.add(method, path, status=status, json_body={"error": message})
    with pytest.raises(p.APIStatusError) as caught:
        await call(api)
    assert_documented_error(caught.value, expected, status, message, method)
    assert caught.value.url.startswith(recorder.url + path)


def test_amount_limit_is_parsed() -> None:
    """The N of "Amount must be less than or equal to N" is exposed as ``limit``."""
    error = p.InvalidAmountError(
        "Amount must be less than or equal to 5", status_code=400, body={}, method="POST", url=""
    )
    assert error.limit == 5
    assert (
        p.InvalidAmountError(
            "Amount must be greater than 0", status_code=400, body={}, method="POST", url=""
        ).limit
        is None
    )


async def test_invalid_address_carries_details_and_suggestion(
    recorder: Recorder, api: p.AsyncPhygitals
) -> None:
    """The address error exposes ``details`` and the ``suggested`` normalized address."""
    body = {
        "error": "Invalid destination address",
        "details": "Street not found",
        "suggested": {"line1": "123 Main Street", "country": "US"},
    }
    recorder.add("POST", f"{B}/ship/quote", status=400, json_body=body)
    with pytest.raises(p.InvalidAddressError) as caught:
        await api.ship_quote(["i"], destination=ADDRESS)
    assert caught.value.details == "Street not found"
    assert caught.value.suggested == {"line1": "123 Main Street", "country": "US"}


async def test_rate_limit_carries_retry_after(recorder: Recorder, api: p.AsyncPhygitals) -> None:
    """A 429's Retry-After (seconds) is on the error."""
    recorder.add(
        "POST",
        f"{B}/vm/buyback",
        status=429,
        headers={"Retry-After": "7"},
        json_body={"error": "A buyback request for this item is already being processed"},
    )
    with pytest.raises(p.RateLimitError) as caught:
        await api.sell_back("i")
    assert caught.value.retry_after == 7.0


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (502, p.ServerError),
        (503, p.ServerError),
        (404, p.NotFoundError),
        (400, p.BadRequestError),
        (418, p.APIStatusError),
    ],
)
async def test_html_error_page_keeps_status_class_and_text(
    recorder: Recorder, api: p.AsyncPhygitals, status: int, expected: type[Exception]
) -> None:
    """A proxy's HTML page still yields the status's class, with the text kept as the body."""
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    recorder.add("GET", f"{B}/card/i", status=status, text=page, content_type="text/html")
    with pytest.raises(p.APIStatusError) as caught:
        await api.card("i")
    assert type(caught.value) is expected
    assert caught.value.body == page
    assert "502 Bad Gateway" in caught.value.message


async def test_empty_error_body_keeps_status_class(
    recorder: Recorder, api: p.AsyncPhygitals
) -> None:
    """An empty 404 body (the default route miss) is still a NotFoundError."""
    recorder.add("GET", f"{B}/card/i", status=404, text="")
    with pytest.raises(p.NotFoundError) as caught:
        await api.card("i")
    assert caught.value.status_code == 404
    assert caught.value.body == ""


async def test_unknown_error_string_falls_back_to_status_class(
    recorder: Recorder, api: p.AsyncPhygitals
) -> None:
    """An error string the SDK does not know maps to the class for its status."""
    recorder.add("POST", f"{B}/vm/buyback", status=400, json_body={"error": "Something new"})
    with pytest.raises(p.BadRequestError) as caught:
        await api.sell_back("i")
    assert type(caught.value) is p.BadRequestError
    assert caught.value.message == "Something new"


async def test_reserved_error_envelope_raises(recorder: Recorder, api: p.AsyncPhygitals) -> None:
    """ship/request's reserved ``status: "error"`` envelope is an error, not a shipment."""
    body = {"order_id": None, "status": "error", "error_message": "Carrier unavailable"}
    recorder.add("POST", f"{B}/ship/request", json_body=body)
    with pytest.raises(p.APIStatusError) as caught:
        await api.ship_request("q_rate_x")
    assert caught.value.message == "Carrier unavailable"


async def test_undecodable_success_body_is_validation_error(
    recorder: Recorder, api: p.AsyncPhygitals
) -> None:
    """A 2xx body of the wrong shape raises ResponseValidationError chaining the cause."""
    recorder.add("GET", f"{B}/inventory/u", json_body={"user_id": "u", "items": [{"id": 5}]})
    with pytest.raises(p.ResponseValidationError) as caught:
        await api.inventory("u")
    assert "items[0]" in str(caught.value)
    assert caught.value.__cause__ is not None


def test_error_classes_hang_from_one_root() -> None:
    """Every public exception is a PhygitalsError; timeouts are also TimeoutErrors."""
    errors = [getattr(p, n) for n in p.__all__ if n.endswith("Error")]
    assert all(issubclass(e, p.PhygitalsError) for e in errors)
    assert issubclass(p.APITimeoutError, TimeoutError)
    assert issubclass(p.PollTimeoutError, TimeoutError)
    assert issubclass(p.ConfigurationError, ValueError)
    assert issubclass(p.OutcomeUnknownError, p.APIConnectionError)


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (400, "Amount must be less than or equal to abc", p.BadRequestError),
        (404, "VM not found", p.NotFoundError),
        (599, "x", p.ServerError),
        (409, "conflict", p.APIStatusError),
    ],
)
def test_mapping_needs_both_status_and_message(
    status: int, message: str, expected: type[Any]
) -> None:
    """A documented string under another status does not pick the special class."""
    assert error_class_for(status, message) is expected


CARD_WITH_GRADE = {"id": "i", "name": "n", "fmv": 1, "metadata": {"name": "n"}, "grade": "10"}


@pytest.mark.parametrize("strict", ["1", "0"])
async def test_unknown_field_is_rejected_only_in_strict_mode(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch, strict: str
) -> None:
    """An unknown field is a ResponseValidationError in strict mode, ignored in production."""
    monkeypatch.setenv(STRICT_ENV, strict)
    recorder.add("GET", f"{B}/card/i", json_body=CARD_WITH_GRADE)
    async with p.AsyncPhygitals(api_key=KEY, base_url=recorder.url + "/_") as client:
        if strict == "1":
            with pytest.raises(p.ResponseValidationError, match="grade"):
                await client.card("i")
        else:
            assert (await client.card("i")).fmv == 1


# One source for the contract: the classes' api_status / api_message, checked against the
# lookup, the module's error tree, the errors guide's table and the sandbox.

_DOCUMENTED_MESSAGES = [
    cls
    for cls in (getattr(p, name) for name in p.__all__)
    if isinstance(cls, type)
    and issubclass(cls, p.APIStatusError)
    and vars(cls).get("api_message") is not None
]


def test_every_documented_message_is_on_its_class() -> None:
    assert {cls.api_message for cls in _DOCUMENTED_MESSAGES} == {
        message for _, message in _errors._BY_MESSAGE
    }
    for cls in _DOCUMENTED_MESSAGES:
        assert cls.api_status is not None
        assert cls.api_message is not None
        assert error_class_for(cls.api_status, cls.api_message) is cls


def _tree_lines() -> dict[str, str]:
    """Each class of the error-tree docstring and the rest of its line."""
    assert _errors.__doc__ is not None
    lines: dict[str, str] = {}
    last = ""
    for line in _errors.__doc__.splitlines():
        match = re.search(r"[├└]── (\w+)(.*)", line)
        if match:
            last = match.group(1)
            lines[last] = match.group(2)
        elif lines and not line.strip():
            break  # the tree ends at its first blank line
        elif lines:
            lines[last] += " " + line.lstrip(" │")  # a continuation of the class above
    return lines


def test_error_tree_docstring_matches_the_classes() -> None:
    tree = _tree_lines()
    exported = {name for name in p.__all__ if name.endswith("Error") and name != "PhygitalsError"}
    assert set(tree) == exported
    for name, rest in tree.items():
        cls = getattr(p, name)
        quoted = re.findall(r'"([^"]*)"', rest)
        if vars(cls).get("api_message") is not None:
            assert quoted == [cls.api_message, *_limit_messages(cls)], name
        else:
            assert quoted == [], name
        if vars(cls).get("api_status") is not None and "api_message" not in vars(cls):
            assert re.match(rf"\s+{cls.api_status}\b", rest), name


def _limit_messages(cls: type[p.APIStatusError]) -> list[str]:
    if cls is p.InvalidAmountError:
        return [p.InvalidAmountError.api_limit_message.format(limit="N")]
    return []


def _readme_table() -> list[tuple[list[str], str, list[str]]]:
    """The errors guide's table: (classes, status, backticked messages) per row."""
    guide = Path(__file__).parents[2] / "docs" / "guides" / "errors.md"
    text = guide.read_text(encoding="utf-8")
    section = text.split("| class | status | documented message |", 1)[1]
    rows = []
    for line in section.splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        names = re.findall(r"`(\w+Error)`", cells[0])
        rows.append((names, cells[1], re.findall(r"`([^`]+)`", cells[2])))
    return rows


def test_errors_guide_table_matches_the_classes() -> None:
    rows = _readme_table()
    seen: set[str] = set()
    for names, status, messages in rows:
        classes = [getattr(p, name) for name in names]
        documented = [cls for cls in classes if vars(cls).get("api_message") is not None]
        if documented:
            # "A / B / C" rows list one message per class, in order.
            expected: list[str] = []
            for cls in documented:
                expected += [cls.api_message, *_limit_messages(cls)]
            assert messages == expected, names
            seen.update(cls.__name__ for cls in documented)
        for cls in classes:
            if vars(cls).get("api_status") is not None or vars(cls).get("api_message") is not None:
                assert status == str(cls.api_status), names
    assert seen == {cls.__name__ for cls in _DOCUMENTED_MESSAGES}


def test_sandbox_answers_with_the_documented_strings() -> None:
    """The sandbox writes its answers independently; every documented string must be there."""
    constants: set[str] = set()
    for source in (Path(p.__file__).parent / "testing").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                constants.add(node.value)
    for cls in _DOCUMENTED_MESSAGES:
        assert cls.api_message in constants, cls.__name__
    prefix = p.InvalidAmountError.api_limit_message.split("{", 1)[0]
    assert prefix in constants
