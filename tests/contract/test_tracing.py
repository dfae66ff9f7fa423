"""OpenTelemetry spans per logical call, and WARNING logs of retries and lost outcomes."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from support import TOPPS, FakeTime, Recorder, run_script

import phygitals_async as p
from phygitals_async.testing import Fault, LocalSandbox

KEY = "sandbox-very-secret-key-0123456789"


class _Switch(Sampler):
    """Records spans only inside the tests below: other tests keep the no-op cost."""

    on = False

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        # (parent_context, trace_id, name, kind, attributes, links): the span keeps the
        # attributes the sampling result carries.
        attributes = kwargs.get("attributes", args[4] if len(args) > 4 else None)
        decision = Decision.RECORD_AND_SAMPLE if self.on else Decision.DROP
        return SamplingResult(decision, attributes if self.on else None)

    def get_description(self) -> str:
        return "on inside tracing tests"


_SWITCH = _Switch()
_EXPORTER = InMemorySpanExporter()
_PROVIDER = TracerProvider(sampler=_SWITCH)
_PROVIDER.add_span_processor(SimpleSpanProcessor(_EXPORTER))
# The global provider can be set once per process; the SDK's spans reach it through the
# proxy tracer it took at import.
trace.set_tracer_provider(_PROVIDER)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    _EXPORTER.clear()
    _SWITCH.on = True
    yield _EXPORTER
    _SWITCH.on = False
    _EXPORTER.clear()


def only(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    found = [s for s in exporter.get_finished_spans() if s.name == name]
    assert len(found) == 1, [s.name for s in exporter.get_finished_spans()]
    return found[0]


def everything_recorded(exporter: InMemorySpanExporter) -> str:
    parts = []
    for span in exporter.get_finished_spans():
        parts += [span.name, repr(dict(span.attributes or {})), repr(span.status.description)]
        parts += [f"{e.name} {dict(e.attributes or {})!r}" for e in span.events]
    return "\n".join(parts)


async def test_one_span_per_call_with_its_attempt(
    client: p.AsyncPhygitals, spans: InMemorySpanExporter
) -> None:
    """A successful call is one span phygitals.<method>: outcome ok, no retries, status."""
    await client.list_packs()
    span = only(spans, "phygitals.list_packs")
    attributes = dict(span.attributes or {})
    assert span.kind is trace.SpanKind.CLIENT
    assert attributes["phygitals.outcome"] == "ok"
    assert attributes["phygitals.retry_count"] == 0
    assert attributes["http.response.status_code"] == 200
    assert attributes["http.request.method"] == "GET"
    assert str(attributes["url.full"]).endswith("/_/api/v1/vm/available?platform=mainnet")
    assert [e.name for e in span.events] == ["phygitals.attempt"]
    assert span.status.status_code is trace.StatusCode.UNSET


async def test_retries_are_events_on_the_one_span(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, spans: InMemorySpanExporter
) -> None:
    """Each attempt and each wait is an event; the retry count is on the span."""
    sandbox.faults.add(Fault.status(503, route="inventory", count=1))
    sandbox.faults.add(
        Fault.status(429, route="inventory", count=1, retry_after=2, body={"error": "slow"})
    )
    await client.buy(TOPPS, amount=1, user_id="u1")
    await client.inventory("u1")
    span = only(spans, "phygitals.inventory")
    attributes = dict(span.attributes or {})
    assert attributes["phygitals.retry_count"] == 2
    assert attributes["phygitals.outcome"] == "ok"
    events = [(e.name, dict(e.attributes or {})) for e in span.events]
    assert [name for name, _ in events] == [
        "phygitals.attempt",
        "phygitals.retry",
        "phygitals.attempt",
        "phygitals.retry",
        "phygitals.attempt",
    ]
    statuses = [a.get("http.response.status_code") for n, a in events if n == "phygitals.attempt"]
    assert set(statuses[:2]) == {429, 503}
    assert statuses[2] == 200
    assert any(a.get("phygitals.retry_after") is True for n, a in events if n == "phygitals.retry")


async def test_a_failed_call_records_its_error_class(
    client: p.AsyncPhygitals, spans: InMemorySpanExporter
) -> None:
    """A failure sets outcome error, error.type and an ERROR status."""
    with pytest.raises(p.UserNotFoundError):
        await client.inventory("nobody")
    span = only(spans, "phygitals.inventory")
    attributes = dict(span.attributes or {})
    assert attributes["phygitals.outcome"] == "error"
    assert attributes["error.type"] == "UserNotFoundError"
    assert attributes["http.response.status_code"] == 404
    assert span.status.status_code is trace.StatusCode.ERROR


async def test_a_lost_answer_is_traced_without_the_key(
    sandbox: LocalSandbox, spans: InMemorySpanExporter
) -> None:
    """A buy whose answer is lost: OutcomeUnknownError on the span, the key nowhere."""
    sandbox.faults.add(Fault.drop_after(route="vm/buy/init", count=1))
    async with sandbox.client(api_key=KEY) as client:
        with pytest.raises(p.OutcomeUnknownError):
            await client.buy(TOPPS, amount=1, user_id="u1")
    span = only(spans, "phygitals.buy")
    assert dict(span.attributes or {})["error.type"] == "OutcomeUnknownError"
    assert "error.type" in dict(span.events[0].attributes or {})
    assert KEY not in everything_recorded(spans)


async def test_spans_nest_under_the_callers_span(
    client: p.AsyncPhygitals, spans: InMemorySpanExporter
) -> None:
    """The SDK's span is a child of the span the application has open."""
    with trace.get_tracer("app").start_as_current_span("handler") as parent:
        await client.list_packs()
    span = only(spans, "phygitals.list_packs")
    assert span.parent is not None
    assert span.parent.span_id == parent.get_span_context().span_id


async def test_a_poll_is_one_span_over_its_requests(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, spans: InMemorySpanExporter
) -> None:
    """wait_for_purchase is a span phygitals.poll_purchase; each status request a child."""
    sandbox.production.pending_polls = 2
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    await client.wait_for_purchase(purchase.session_id, interval=0)
    poll = only(spans, "phygitals.poll_purchase")
    assert dict(poll.attributes or {})["phygitals.outcome"] == "ok"
    statuses = [s for s in spans.get_finished_spans() if s.name == "phygitals.purchase_status"]
    assert len(statuses) == 3
    assert all(s.parent is not None and s.parent.span_id == poll.context.span_id for s in statuses)
    buy = only(spans, "phygitals.buy")
    assert buy.parent is None


async def test_a_failed_poll_span_names_its_error(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, spans: InMemorySpanExporter
) -> None:
    """A poll that gives up records PollTimeoutError on its span."""
    sandbox.production.pending_polls = 100
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    with pytest.raises(p.PollTimeoutError):
        await client.wait_for_purchase(purchase.session_id, interval=1, timeout=3)
    poll = only(spans, "phygitals.poll_purchase")
    assert dict(poll.attributes or {})["error.type"] == "PollTimeoutError"
    assert poll.status.status_code is trace.StatusCode.ERROR


async def test_a_bulk_job_is_one_span_counting_its_outcomes(
    client: p.AsyncPhygitals, spans: InMemorySpanExporter
) -> None:
    """sell_back_many is a span over its sellbacks, with the counts of each outcome."""
    await client.buy(TOPPS, amount=3, user_id="u1")
    inventory = await client.inventory("u1")
    await client.sell_back_many([*inventory.items, "no-such-item"], concurrency=2)
    job = only(spans, "phygitals.sell_back_many")
    attributes = dict(job.attributes or {})
    assert (attributes["phygitals.items"], attributes["phygitals.succeeded"]) == (4, 3)
    assert (attributes["phygitals.failed"], attributes["phygitals.unknown"]) == (1, 0)
    sales = [s for s in spans.get_finished_spans() if s.name == "phygitals.sell_back"]
    assert len(sales) == 4
    assert all(s.parent is not None and s.parent.span_id == job.context.span_id for s in sales)


# -- logging ------------------------------------------------------------------------


async def test_retries_and_retry_after_waits_are_warnings(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, caplog: pytest.LogCaptureFixture
) -> None:
    """Every retry logs one WARNING on phygitals_async, saying when Retry-After set the wait."""
    sandbox.faults.add(Fault.status(503, route="vm/available", count=1))
    sandbox.faults.add(
        Fault.status(429, route="vm/available", count=1, retry_after=3, body={"error": "slow"})
    )
    with caplog.at_level(logging.WARNING, logger="phygitals_async"):
        await client.list_packs()
    records = [r for r in caplog.records if r.name == "phygitals_async"]
    assert len(records) == 2
    assert all(r.levelno == logging.WARNING for r in records)
    messages = [r.getMessage() for r in records]
    assert messages[0].startswith("list_packs: retry 1 of 2 after ")
    assert messages[0].endswith(" s: ServerError: 503 An unexpected error occurred")
    assert sum("Retry-After" in m for m in messages) == 1
    assert messages[1].startswith("list_packs: retry 2 of 2 after 3 s (the server's Retry-After)")


async def test_outcome_unknown_is_a_warning(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, caplog: pytest.LogCaptureFixture
) -> None:
    """A money POST whose answer was lost logs a WARNING naming the operation."""
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    item = (await client.inventory("u1")).items[0]
    sandbox.faults.add(Fault.drop_after(route="vm/buyback", count=1))
    with (
        caplog.at_level(logging.WARNING, logger="phygitals_async"),
        pytest.raises(p.OutcomeUnknownError),
    ):
        await client.sell_back(item)
    assert purchase.session_id
    [record] = [r for r in caplog.records if r.name == "phygitals_async"]
    assert record.levelno == logging.WARNING
    assert "sell_back may have reached the server" in record.getMessage()


async def test_the_key_is_redacted_from_log_lines(
    recorder: Recorder, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that echoes the key in an error does not get it into the log."""
    recorder.add("GET", "/_/api/v1/vm/available", status=503, json_body={"error": f"bad key {KEY}"})
    recorder.add("GET", "/_/api/v1/vm/available", json_body=[])
    async with p.AsyncPhygitals(KEY, base_url=recorder.url + "/_") as client:
        fake_time.attach(client)
        with caplog.at_level(logging.DEBUG, logger="phygitals_async"):
            await client.list_packs()
    lines = [r.getMessage() for r in caplog.records]
    assert any("[redacted]" in line for line in lines)
    assert not any(KEY in line for line in lines)


def test_the_sdk_works_without_the_otel_extra() -> None:
    """With opentelemetry not importable, calls and retries work and log as before."""
    script = textwrap.dedent(
        """
        import asyncio, sys
        sys.modules["opentelemetry"] = None  # as if the otel extra were not installed
        from phygitals_async import _tracing
        from phygitals_async.testing import Fault, LocalSandbox

        async def main():
            async with LocalSandbox() as sandbox, sandbox.client(retry_backoff=0) as client:
                sandbox.faults.add(Fault.status(503, route="vm/available", count=1))
                packs = await client.list_packs()
            print(_tracing.enabled(), len(packs) > 0, sandbox.ledger.requests["vm/available"])

        asyncio.run(main())
        """
    )
    result = run_script(script)
    assert result.stdout.split() == ["False", "True", "2"]
    assert "list_packs: retry 1 of 2 after" in result.stderr  # the WARNING reaches the last resort


def test_no_span_is_started_before_a_provider_is_set() -> None:
    """With the extra but no tracer provider, calls start no span; setting one turns them on."""
    script = textwrap.dedent(
        """
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from phygitals_async import _tracing

        before = _tracing.enabled()
        trace.set_tracer_provider(TracerProvider())
        print(before, _tracing.enabled())
        """
    )
    result = run_script(script)
    assert result.stdout.split() == ["False", "True"]


def test_a_provider_named_in_the_environment_turns_tracing_on() -> None:
    """OTEL_PYTHON_TRACER_PROVIDER set at start: calls are traced without any code."""
    script = textwrap.dedent(
        """
        from phygitals_async import _tracing

        print(_tracing.enabled())
        """
    )
    result = run_script(script, env={"OTEL_PYTHON_TRACER_PROVIDER": "sdk_tracer_provider"})
    assert result.stdout.split() == ["True"]
