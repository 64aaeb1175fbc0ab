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
BLOCKING_IMPACTS = ("serious", "critical")  # axe-core's worst two: what blocks a screen-reader or low-vision user


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now, one line each (rule, targets).

    axe-playwright-python injects its bundled axe.min.js with `page.evaluate`, which runs through the
    DevTools protocol and so is not subject to the page's Content-Security-Policy (no inline script
    is needed, none is allowed)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page).response
    return [f"{violation['id']} ({violation['impact']}): {violation['help']} at "
            + "; ".join(" ".join(node["target"]) + (f" ({node['any'][0]['message']})" if node.get("any") else "")
                        for node in violation["nodes"])
            for violation in results["violations"] if violation["impact"] in BLOCKING_IMPACTS]


def assert_accessible(page: Any, where: str = "") -> None:
    """Fails naming every serious or critical axe-core violation on the page, with its rule id and targets."""
    found = serious_violations(page)
    assert found == [], f"axe-core on {where or page.url}:\n" + "\n".join(found)


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


@pytest.fixture
def axe_check() -> Any:
    """`axe_check(page, where)`: fails listing each serious or critical axe-core violation on the page."""
    return assert_accessible



@pytest.fixture
def screenshots_for(request: Any, tmp_path: Path) -> Any:
    """name -> where a browser test saves its screenshots (TEST_ARTIFACTS_DIR in CI), said in the output."""
    def folder_for(name: str) -> Path:
        folder = Path(os.environ.get("TEST_ARTIFACTS_DIR") or tmp_path) / f"{name}-screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"{name} screenshots: {folder}")
        return folder
    return folder_for
