"""Real-browser fixtures: one ``streamlit run`` of the app on a free localhost port and one
headless Debian Chromium driven by Python Playwright, both for the whole session.

Without Chromium or the playwright package the browser tests skip with the reason; with
``CONVCORE_REQUIRE_BROWSER=1`` (set by ``.ci/run``) they fail instead, so CI cannot pass
without running them.  ``CONVCORE_CHROMIUM`` names another Chromium executable;
``BROWSER_TEST_APP`` points the fixtures at another entry script (for debugging the tests
themselves).  Screenshots and the server log go to
``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest
from app_server import running_app
from page_errors import fail_on_component_errors

ROOT = Path(__file__).resolve().parents[2]
APP = Path(os.environ.get("BROWSER_TEST_APP") or ROOT / "app" / "streamlit_app.py")
ARTIFACTS = ROOT / "test-artifacts"
REQUIRE_BROWSER = os.environ.get("CONVCORE_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def find_chromium() -> str | None:
    """Debian's Chromium (never a Playwright-downloaded one), or ``$CONVCORE_CHROMIUM``."""
    override = os.environ.get("CONVCORE_CHROMIUM")
    if override:
        return override if os.access(override, os.X_OK) else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def browser_problem() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as e:
        return f"the playwright Python package is not importable ({e})"
    if find_chromium() is None:
        where = (f"CONVCORE_CHROMIUM={os.environ['CONVCORE_CHROMIUM']}"
                 if os.environ.get("CONVCORE_CHROMIUM")
                 else "/usr/bin/chromium, chromium and chromium-browser on PATH")
        return (f"no Chromium executable (looked for {where}); install it with "
                "`apt-get install chromium`")
    if not APP.exists():
        return f"the app entry script {APP} does not exist"
    return None


def skip_or_fail(reason: str):
    if REQUIRE_BROWSER:
        pytest.fail(f"browser tests cannot run: {reason} (CONVCORE_REQUIRE_BROWSER=1 requires "
                    "them)", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason}")


def pytest_collection_modifyitems(config, items):
    """Without a browser (and not required to have one) skip every test of this folder,
    before any fixture starts a server."""
    problem = browser_problem()
    if problem is None or REQUIRE_BROWSER:
        return  # with a problem and REQUIRE_BROWSER, the app_url fixture fails them
    here = Path(__file__).resolve().parent
    mark = pytest.mark.skip(reason=f"browser tests skipped: {problem}")
    for item in items:
        if here in Path(item.path).resolve().parents:
            item.add_marker(mark)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so ``page`` can screenshot failures."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@contextlib.contextmanager
def serve_app(log_path: Path):
    """Run ``streamlit run`` of the app on a free localhost port; yields its base URL (no
    trailing slash) once it answers, and stops it afterwards."""
    problem = browser_problem()
    if problem:
        skip_or_fail(problem)
    with running_app(APP, log_path) as (url, _):
        yield url


@pytest.fixture(scope="session")
def app_url(artifacts):
    """Base URL of the app server shared by the session's tests."""
    with serve_app(artifacts / "streamlit-server.log") as url:
        yield url


@pytest.fixture
def fresh_app_url(artifacts):
    """Base URL of a server of its own that no browser has visited yet: what the first
    visitor after a (re)start meets."""
    with serve_app(artifacts / "streamlit-server-fresh.log") as url:
        yield url


@pytest.fixture(scope="session")
def browser(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS,
                                     headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, artifacts, request):
    """A fresh browser tab (own context: no state shared between tests); on failure the
    tab is saved as ``test-artifacts/FAILED-<test>.png``.  ``page.errors`` collects
    uncaught JavaScript errors."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  device_scale_factor=1)
    context.set_default_timeout(30_000)
    tab = context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    try:
        yield tab
        fail_on_component_errors([tab], request)
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            name = "".join(c if c.isalnum() or c in "-_." else "_" for c in request.node.name)
            with contextlib.suppress(Exception):  # it must not hide the real failure
                tab.screenshot(path=str(artifacts / f"FAILED-{name}.png"), full_page=True)
        context.close()
