"""The sandbox dashboard in a real headless Chromium: live updates, every control, safety.

Debian's ``chromium`` drives it (Playwright cannot download browsers here); set
``PHYGITALS_CHROMIUM`` to use another binary. Without one the tests skip on a developer
machine and fail where ``CI`` is set, so CI never passes by skipping them. The tests are
blocking (Playwright's sync API) with the sandbox on its own thread, so they never share
pytest-asyncio's event loop; every wait is bounded.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright
from support import TOPPS

from phygitals_async import ItemExpiredError, OutcomeUnknownError, Phygitals
from phygitals_async.testing import LocalSandbox, sandbox_in_thread

WAIT_MS = 5_000  # the page polls every second; five leaves room on a loaded machine
XSS = "<img src=x onerror=alert(1)>"


def _chromium() -> str:
    found = os.environ.get("PHYGITALS_CHROMIUM") or shutil.which("chromium")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(
            "no chromium binary: CI must run the dashboard tests (apt-get install chromium)"
        )
    pytest.skip("no chromium binary (apt-get install chromium, or set PHYGITALS_CHROMIUM)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = _chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, timeout=30_000)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def dashboard(threaded: LocalSandbox, browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.set_default_navigation_timeout(WAIT_MS * 2)
    dialogs: list[str] = []

    def seen(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", seen)
    page.goto(threaded.dashboard_url)
    expect(page.locator("#live")).to_contain_text("live", timeout=WAIT_MS)
    try:
        yield page
    finally:
        context.close()
    assert dialogs == [], "a value ran as script"


def test_what_the_sdk_does_appears_without_a_reload(
    dashboard: Page, sync_client: Phygitals
) -> None:
    """A purchase, a sale and their requests show up on the open page, title and all."""
    assert "Phygitals sandbox" in dashboard.title()
    for heading in ("Clock", "Users", "Purchases", "Sellbacks", "Shipments", "Faults"):
        expect(dashboard.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(dashboard.get_by_role("heading", name="Requests", exact=True)).to_be_visible()
    purchase = sync_client.buy(TOPPS, amount=2, user_id="u1")
    sale = sync_client.sell_back(purchase.nfts[0].id)
    expect(dashboard.locator("#purchases")).to_contain_text(purchase.session_id, timeout=WAIT_MS)
    expect(dashboard.locator("#purchases")).to_contain_text("fulfilled")
    expect(dashboard.locator("#sellbacks")).to_contain_text(purchase.nfts[0].id)
    expect(dashboard.locator("#total-paid")).to_have_text(f"${sale.amount}")
    expect(dashboard.locator("#requests tr").first).to_contain_text("/_/api/v1/vm/buyback")
    expect(dashboard.locator("#requests")).not_to_contain_text("sandbox-local")
    dashboard.get_by_role("button", name="u1", exact=True).click()
    expect(dashboard.locator("#user-items")).to_contain_text(purchase.nfts[1].id)


def test_seed_items_gives_the_user_new_items(dashboard: Page, sync_client: Phygitals) -> None:
    """Through "User", "Count" and "Seed items": the items are in the SDK's inventory."""
    dashboard.get_by_label("User").fill("qa-seeded")
    dashboard.get_by_label("Count").fill("3")
    dashboard.get_by_role("button", name="Seed items").click()
    expect(dashboard.locator("#message")).to_contain_text("3 new item", timeout=WAIT_MS)
    inventory = sync_client.inventory("qa-seeded")
    assert len(inventory.items) == 3
    expect(dashboard.locator("#user-items tr")).to_have_count(3)


def test_advancing_past_the_window_expires_items(dashboard: Page, sync_client: Phygitals) -> None:
    """Through "Advance by" 8d and "Advance clock": sell_back raises the expiry error."""
    purchase = sync_client.buy(TOPPS, amount=1, user_id="u1")
    dashboard.get_by_label("Advance by").fill("8d")
    dashboard.get_by_role("button", name="Advance clock").click()
    expect(dashboard.locator("#message")).to_contain_text("clock advanced", timeout=WAIT_MS)
    with pytest.raises(ItemExpiredError):
        sync_client.sell_back(purchase.nfts[0].id)


def test_a_drop_after_fault_loses_the_next_answer(
    dashboard: Page, threaded: LocalSandbox, sync_client: Phygitals
) -> None:
    """Through "Endpoint", "Fault", "Times", "Add fault", then "Clear faults"."""
    purchase = sync_client.buy(TOPPS, amount=2, user_id="u1")
    dashboard.get_by_label("Endpoint").select_option("vm/buyback")
    dashboard.get_by_label("Fault", exact=True).select_option("drop_after")
    dashboard.get_by_label("Times").fill("1")
    dashboard.get_by_role("button", name="Add fault").click()
    expect(dashboard.locator("#faults")).to_contain_text("drop_after", timeout=WAIT_MS)
    with pytest.raises(OutcomeUnknownError):
        sync_client.sell_back(purchase.nfts[0].id)
    expect(dashboard.locator("#faults tr").first.locator("td").last).to_have_text("1")
    expect(dashboard.locator("#requests tr").first).to_contain_text("dropped")
    dashboard.get_by_role("button", name="Add fault").click()
    dashboard.get_by_role("button", name="Clear faults").click()
    expect(dashboard.locator("#faults")).to_contain_text("no active faults", timeout=WAIT_MS)
    assert threaded.faults.rules == []
    sync_client.sell_back(purchase.nfts[1].id)


def test_reset_empties_the_ledger(
    dashboard: Page, threaded: LocalSandbox, sync_client: Phygitals
) -> None:
    """Through "Reset": no purchases, no sales, on the page and in the ledger."""
    purchase = sync_client.buy(TOPPS, amount=1, user_id="u1")
    sync_client.sell_back(purchase.nfts[0].id)
    expect(dashboard.locator("#sellbacks")).to_contain_text(purchase.nfts[0].id)
    dashboard.get_by_role("button", name="Reset").click()
    expect(dashboard.locator("#purchases")).to_have_text("no purchases yet", timeout=WAIT_MS)
    expect(dashboard.locator("#sellbacks")).to_have_text("no sellbacks yet")
    assert threaded.ledger.purchases == 0
    assert threaded.ledger.amount_paid == 0


def test_values_show_as_text_and_never_run(dashboard: Page, sync_client: Phygitals) -> None:
    """A user id made of HTML is shown as those characters; no element, no script."""
    purchase = sync_client.buy(TOPPS, amount=1, user_id=XSS)
    button = dashboard.get_by_role("button", name=XSS, exact=True)
    expect(button).to_be_visible(timeout=WAIT_MS)
    button.click()
    expect(dashboard.locator("#user-detail-heading")).to_contain_text(XSS)
    expect(dashboard.locator("#purchases")).to_contain_text(purchase.session_id)
    assert dashboard.locator("main img").count() == 0


def test_another_origin_cannot_drive_the_sandbox(
    browser: Browser, threaded: LocalSandbox, sync_client: Phygitals
) -> None:
    """A page on another origin posting to the controls (JSON or a plain form) changes nothing."""
    sync_client.buy(TOPPS, amount=1, user_id="u1")
    with sandbox_in_thread() as other:
        page = browser.new_page()
        try:
            page.set_default_timeout(WAIT_MS)
            page.goto(other.dashboard_url)
            target = threaded.dashboard_url + "api/reset"
            outcome = page.evaluate(
                """async (target) => {
                  const results = [];
                  try {
                    await fetch(target, {method: "POST", body: "{}",
                      headers: {"Content-Type": "application/json"}});
                    results.push("json sent");
                  } catch (error) { results.push("json blocked"); }
                  await fetch(target, {method: "POST", mode: "no-cors", body: "{}",
                    headers: {"Content-Type": "text/plain"}}).catch(() => null);
                  results.push("form sent");
                  return results;
                }""",
                target,
            )
        finally:
            page.close()
    assert outcome == ["json blocked", "form sent"]
    assert threaded.ledger.purchases == 1


def test_a_stopped_sandbox_is_said_once_and_its_tables_greyed(browser: Browser) -> None:
    """The sandbox stops under an open page: one message, a stale page, tries spaced out."""
    page = browser.new_page()
    try:
        page.set_default_timeout(WAIT_MS)
        with sandbox_in_thread() as sandbox:
            page.goto(sandbox.dashboard_url)
            expect(page.locator("#live")).to_contain_text("live", timeout=WAIT_MS)
        expect(page.locator("#live")).to_contain_text("not answering since", timeout=WAIT_MS)
        expect(page.locator("body")).to_have_class(re.compile(r"\bstale\b"))
        expect(page.locator("#message")).to_contain_text("the tables show what it last said")
        assert page.locator("#message.error").count() == 1
    finally:
        page.close()


def test_a_focused_user_button_keeps_the_focus_across_refreshes(
    dashboard: Page, sync_client: Phygitals
) -> None:
    """Tables are rebuilt only when they change: a keyboard user keeps their place."""
    sync_client.buy(TOPPS, amount=1, user_id="u1")
    button = dashboard.get_by_role("button", name="u1", exact=True)
    button.focus()
    for _ in range(2):  # two refreshes of the page with nothing changed
        before = dashboard.locator("#live").inner_text()
        expect(dashboard.locator("#live")).not_to_have_text(before, timeout=WAIT_MS)
    expect(button).to_be_focused()
