"""Take the README's screenshot of the sandbox dashboard, with Debian's headless chromium.

``python scripts/screenshot_dashboard.py [OUT.png] [--chromium /usr/bin/chromium]``

Starts a local sandbox, drives it through the SDK and the control API as a user would
(purchases, a sale, a seeded user, a fault, a shipment), then saves the page as a PNG.
Needs the ``test`` extra (Playwright) and a chromium binary; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import shutil
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

from phygitals_async.testing import Fault, LocalSandbox, sandbox_in_thread

ROOT = Path(__file__).resolve().parent.parent
ADDRESS = {"name": "Jane Doe", "line1": "123 Main St", "city": "Austin", "country": "US"}


def stage(sandbox: LocalSandbox) -> None:
    """A few minutes of a partner's test run."""
    with sandbox.sync_client() as client:
        packs = client.list_packs()
        bought = client.buy(packs[0].id, amount=3, user_id="alice")
        client.wait_for_purchase(bought.session_id, timeout=10)
        client.sell_back(bought.nfts[0].id)
        client.buy(packs[1].id, amount=2, user_id="bob")
        quote = client.ship_quote([bought.nfts[1].id], destination=ADDRESS)
        client.ship_request(quote.quotes[0].id)
        client.inventory("alice")
    request = urllib.request.Request(  # noqa: S310  the sandbox we just started
        sandbox.root_url + "/_sandbox/api/seed",
        data=json.dumps({"user_id": "qa-carol", "count": 4}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass
    sandbox.faults.add(Fault.drop_after(route="vm/buyback", count=1))


def main() -> None:
    """Parse the arguments, stage a sandbox and save the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=ROOT / "docs/images/sandbox-dashboard.png")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    with sandbox_in_thread(seed=7) as sandbox:
        stage(sandbox)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, timeout=30_000)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(sandbox.dashboard_url, timeout=10_000)
                page.get_by_role("button", name="alice").click()
                page.locator("#user-detail").wait_for(state="visible", timeout=10_000)
                page.screenshot(path=str(args.out))
            finally:
                browser.close()
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
