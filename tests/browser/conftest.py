"""A live server and a real browser for the dashboard.

The app of the test (the `app` fixture: the test database, a clock the test sets) is served by a
real HTTP server on a free loopback port, with CSRF protection on as in production, and Debian's
Chromium is driven by Playwright (`executable_path`: Playwright's own browser downloads are never
used). Without Chromium the tests are skipped, saying how to install it (on CI, CI=true, they fail). A failing test leaves a
screenshot of the page in its tmp path.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
TIMEOUT_MS = 20_000  # a loaded 2-core CI machine has taken over 10 s to lay out a page


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":  # .ci/run installs it: a skip there would hide a broken install
            pytest.fail(f"Chromium is not installed at {CHROMIUM} on CI (.ci/run should have installed it)")
        pytest.skip(f"Chromium is not installed at {CHROMIUM}: run `sudo apt-get install -y chromium` "
                    "(or set CHROMIUM_PATH)")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed: run `make install-dev`")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        sync_api.expect.set_options(timeout=TIMEOUT_MS)
        yield browser
        browser.close()


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The test's app served over real HTTP on 127.0.0.1; yields its base URL."""
    app.config["WTF_CSRF_ENABLED"] = True  # off in the unit tests; the browser must send real tokens
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def new_page(browser, live_server, request, tmp_path) -> Iterator[Any]:
    """`new_page()` opens a page in a fresh browser (own cookies) on the live server.

    When the test fails, each page's screenshot is saved in the test's tmp path.
    """
    contexts = []

    def open_page() -> Any:
        context = browser.new_context(base_url=live_server, locale="en-US", timezone_id="UTC")
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    report = getattr(request.node, "rep_call", None)
    for number, context in enumerate(contexts, 1):
        if report is not None and report.failed:
            for page in context.pages:
                shot = tmp_path / f"failure-{number}.png"
                page.screenshot(path=str(shot), full_page=True)
                print(f"screenshot of the page at {page.url}: {shot}")
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
