"""The examples/process_pool recipe: a ProcessPoolExecutor, fork and spawn, one client each.

The module under test creates its client at import time, as users write it; a sandbox on a
thread of this process serves every worker over loopback.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest
from support import TOPPS

import phygitals_async as p
from phygitals_async.testing import LocalSandbox, sandbox_in_thread

RECIPE = Path(__file__).resolve().parents[2] / "examples" / "process_pool"

pytestmark = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning"
)


@pytest.fixture(scope="module")
def pool_sandbox() -> Iterator[tuple[LocalSandbox, ModuleType]]:
    """A sandbox, and the recipe module imported with the environment pointing at it."""
    saved = {k: os.environ.get(k) for k in ("PHYGITALS_API_KEY", "PHYGITALS_BASE_URL")}
    sys.path.insert(0, str(RECIPE))  # spawned workers inherit sys.path, so they import it too
    try:
        with sandbox_in_thread(seed=5) as sandbox:
            os.environ["PHYGITALS_API_KEY"] = "sandbox-pool"
            os.environ["PHYGITALS_BASE_URL"] = sandbox.url
            module = importlib.import_module("pool_jobs")
            yield sandbox, module
            module.client.close()
    finally:
        sys.path.remove(str(RECIPE))
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.mark.timeout(120)
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_jobs_and_errors_cross_a_process_pool(
    pool_sandbox: tuple[LocalSandbox, ModuleType], method: str
) -> None:
    """40 buy-and-sell jobs on 2 processes succeed; selling twice raises the typed error."""
    sandbox, jobs = pool_sandbox
    sold_before = dict(sandbox.ledger.sold)
    users = [f"{method}-{i}" for i in range(40)]
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        outcomes = list(pool.map(jobs.buy_and_sell, users, [TOPPS] * 40, timeout=90))
        with pytest.raises(p.ItemNotFoundError) as caught:
            pool.submit(jobs.sell, outcomes[0][0]).result(timeout=30)
    assert len({item for item, _, _ in outcomes}) == 40
    assert os.getpid() not in {pid for _, _, pid in outcomes}
    new_sales = {k: v for k, v in sandbox.ledger.sold.items() if k not in sold_before}
    assert sum(new_sales.values(), Decimal(0)) == sum(Decimal(a) for _, a, _ in outcomes)
    error = caught.value
    assert (error.status_code, error.message, error.method) == (400, "Item not found", "POST")
    assert error.url.endswith("/vm/buyback")
