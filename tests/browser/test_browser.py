"""The app in a real browser: Debian's Chromium driven by Playwright against ``streamlit run``.

What only a browser can show: every page renders its figures with no exception box, plotly.js
comes from the app itself, a shared URL restores the view and the URL follows the browser
view's step, examples and uploads reach the explorer.  The view itself is tested in
``test_explorer_view.py``.  Screenshots of each state go to ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest

try:
    from playwright.sync_api import Page, expect
except ImportError:  # the conftest skips (or, in CI, fails) every test here with the reason
    Page, expect = object, None

pytestmark = pytest.mark.browser

CHART = '[data-testid="stPlotlyChart"]'
EXCEPTION = '[data-testid="stException"]'
PAGES = {  # URL path -> (screenshot name, least number of Plotly charts)
    "/": ("explorer-1d", 1),
    "/explorer_2d": ("explorer-2d", 1),
    "/groups": ("groups", 1),
    "/examples": ("examples", 1),
    "/about": ("about", 1),
    "/gallery": ("gallery", 0),
}
LOAD_TIMEOUT_MS = 45_000


# ------------------------------------------------------------------------------ helpers

def wait_until_idle(page: Page, timeout_ms: int = LOAD_TIMEOUT_MS) -> None:
    """Wait for the script run to finish: the app is mounted and Streamlit's "running"
    status widget is gone (it shows while a rerun is in flight)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    deadline = time.monotonic() + timeout_ms / 1000
    quiet_since = None
    while time.monotonic() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        stale = page.locator('[data-stale="true"]').count() > 0
        if running or stale:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 0.5:  # idle for half a second
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the app was still running after {timeout_ms / 1000:.0f} s")


def open_page(page: Page, url: str, charts: int = 1) -> None:
    """Open ``url`` and wait until its script run is over (and ``charts`` charts drew)."""
    page.goto(url, wait_until="domcontentloaded")
    wait_until_idle(page)
    if charts and page.locator(EXCEPTION).count() == 0:
        page.locator(CHART).nth(charts - 1).wait_for(state="visible", timeout=LOAD_TIMEOUT_MS)
        wait_until_idle(page)


def assert_no_exception(page: Page) -> None:
    boxes = page.locator(EXCEPTION)
    if boxes.count():
        raise AssertionError(f"{boxes.count()} exception box(es) on {page.url}:\n"
                             + "\n---\n".join(boxes.all_inner_texts())[:3000])


def assert_no_js_errors(page: Page) -> None:
    assert not page.errors, f"uncaught JavaScript errors on {page.url}: {page.errors}"


def shot(page: Page, artifacts, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


VIEW = '[data-testid="cx-root"]'
# Counts the messages the page sends to the server (Streamlit's BackMsgs) in window.__wsSent.
COUNT_WS_SENDS = """(() => {
  const send = WebSocket.prototype.send;
  window.__wsSent = 0;
  WebSocket.prototype.send = function (data) {
    window.__wsSent += 1;
    return send.call(this, data);
  };
})();"""


def open_view(page: Page, address: str) -> None:
    """Open a page with an explorer-like view and wait until it drew and the run is over."""
    page.goto(address, wait_until="domcontentloaded")
    wait_until_idle(page)
    page.wait_for_selector(f"{VIEW} .cx-eq", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_function("() => window.Plotly && document.querySelector('.cx-plot .main-svg')")
    wait_until_idle(page)
    assert_no_exception(page)


def assert_video_plays(page: Page, button: str, path, steps: int) -> dict:
    """Click a view's Video ``button``: the download at ``path`` is a WebM of ``steps`` frames
    that Chromium plays at the recorded size; the recorder's report."""
    import base64

    with page.expect_download(timeout=60_000) as got:
        page.click(button)
    got.value.save_as(path)
    made = view(page, "v.recorder.last")
    assert made["frames"] == steps and path.stat().st_size == made["bytes"] > 1000
    data = path.read_bytes()
    assert data[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a WebM file
    played = page.evaluate("""async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const v = document.createElement('video');
      v.muted = true;
      v.src = URL.createObjectURL(new Blob([bytes], {type: 'video/webm'}));
      document.body.appendChild(v);
      await new Promise((ok, bad) => { v.onloadeddata = ok; v.onerror = () => bad(v.error); });
      await v.play();
      await new Promise((ok) => setTimeout(ok, 300));
      return [v.videoWidth, v.videoHeight, v.currentTime > 0];
    }""", base64.b64encode(data).decode())
    assert played == [made["width"], made["height"], True], played
    return made


def view(page: Page, expr: str):
    """``expr`` evaluated in the page with ``v``, the view of the page."""
    return page.evaluate(f"() => {{ const v = document.querySelector('{VIEW}').__cx; "
                         f"return {expr}; }}")


def view_step(page: Page) -> int:
    """The step the explorer's browser view shows."""
    page.wait_for_selector(f"{VIEW} .cx-eq", timeout=LOAD_TIMEOUT_MS)
    return int(page.locator(VIEW).get_attribute("data-step"))


# -------------------------------------------------------------------------------- tests

@pytest.mark.parametrize("path", list(PAGES))
def test_page_loads_with_its_figures_and_no_exception(page, app_url, artifacts, path):
    name, least = PAGES[path]
    explorer = path in ("/", "/explorer_2d")
    open_page(page, app_url + path, charts=0 if explorer else least)
    assert_no_exception(page)
    expect(page.locator("h1").first).to_be_visible()
    if explorer:  # the browser view: plotly.js heatmaps, and no st.plotly_chart beside it
        page.wait_for_selector(f"{VIEW} .cx-plot .main-svg", timeout=LOAD_TIMEOUT_MS)
        assert page.locator(CHART).count() == 0
        assert page.evaluate("typeof window.Plotly") == "object"
    else:
        charts = page.locator(CHART)
        assert charts.count() >= least, f"{charts.count()} charts on {path}, expected {least}+"
        for i in range(charts.count()):
            # each chart really drew (a Plotly graph with its SVG), not an empty frame
            expect(charts.nth(i).locator(".js-plotly-plot .main-svg").first).to_be_attached()
    assert_no_js_errors(page)
    shot(page, artifacts, f"page-{name}")


def test_plotly_js_comes_from_the_app_itself(page, app_url):
    """No CDN: a classroom may be offline.  Every script and stylesheet the explorer loads is
    served by the app (plotly.js from the installed package, gzipped, with an ETag)."""
    outside = []
    local = (app_url, "blob:" + app_url)  # the component's inline module is a blob: URL
    page.on("request", lambda r: outside.append(r.url) if r.resource_type in (
        "script", "stylesheet") and not r.url.startswith(local) else None)
    plotly = []
    page.on("response", lambda r: plotly.append(r) if "vendor/plotly" in r.url else None)
    open_page(page, app_url + "/explorer_2d", charts=0)
    page.wait_for_selector(f"{VIEW} .cx-plot .main-svg", timeout=LOAD_TIMEOUT_MS)
    assert outside == []
    assert plotly and plotly[0].status == 200 and plotly[0].headers.get("etag")


@pytest.mark.parametrize("path,query,step,steps", [
    ("/", "step=3&stride=2", 3, 5),  # 1-D: L=10, size 2, stride 2 -> 5 steps
    ("/explorer_2d", "stride=2,1&step=5", 5, 8),  # 2-D: 2x4 outputs; step 5 is cell (1, 0)
])
def test_shared_url_restores_the_view(page, app_url, artifacts, path, query, step, steps):
    """A link's step is the step the page shows ("step 5 of 8" for step=5), and stepping on
    moves the URL's step with the page's."""
    open_page(page, f"{app_url}{path}?{query}", charts=0)
    assert_no_exception(page)
    expect(page.locator('[data-testid="stAlert"]', has_text="URL:")).to_have_count(0)
    assert view_step(page) == step - 1  # the raster index, from 0
    assert page.get_by_test_id("cx-step").inner_text().startswith(f"step {step} of {steps}")
    kept = parse_qs(urlsplit(page.evaluate("location.href")).query)
    assert kept.get("step") == [str(step)]
    assert kept.get("stride") == [parse_qs(query)["stride"][0]]
    shot(page, artifacts, f"shared-url-{PAGES[path][0]}")
    # stepping on from the shared view: the URL follows once the user stops
    page.get_by_test_id("cx-next").click()
    assert page.get_by_test_id("cx-step").inner_text().startswith(f"step {step + 1} of")
    page.wait_for_function(f"() => new URLSearchParams(location.search).get('step') === "
                           f"'{step + 1}'")
    assert_no_exception(page)


def test_a_link_from_before_steps_counted_from_1_opens_the_first_step(page, app_url):
    """step=0 was the first step when the URL counted from 0: it still opens the first step
    ("step 1 of 16"), and the page says what it did."""
    open_page(page, f"{app_url}/explorer_2d?step=0", charts=0)
    assert_no_exception(page)
    assert page.get_by_test_id("cx-step").inner_text().startswith("step 1 of 16")
    expect(page.get_by_text("step: asked 0, using 1")).to_be_visible()


def test_first_visit_by_shared_link_keeps_the_view(page, fresh_app_url, artifacts):
    """The first visitor of a freshly started server opens a shared 2-D link and steps on:
    the view must stay exactly the shared one plus the step (no control falls back to a
    default, no extra query parameter appears)."""
    open_page(page, fresh_app_url + "/explorer_2d?stride=2,1&step=5", charts=0)
    assert_no_exception(page)
    assert view_step(page) == 4  # "step 5 of 8"
    page.get_by_test_id("cx-next").click()
    page.wait_for_function("() => new URLSearchParams(location.search).get('step') === '6'",
                           timeout=LOAD_TIMEOUT_MS)
    wait_until_idle(page)
    query = parse_qs(page.evaluate("location.search").lstrip("?"))
    shot(page, artifacts, "first-visit-shared-link")
    assert query == {"stride": ["2,1"], "step": ["6"]}, (
        f"after Next the URL holds {query}: the first rerun of the first session changed "
        "other settings")
    assert_no_exception(page)


def forward_messages(page: Page) -> list[str]:
    """Record the type of every message the server sends this tab (Streamlit's ForwardMsg
    protobuf); returns the list, filled as they arrive."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    kinds: list[str] = []

    def received(frame) -> None:
        if isinstance(frame, bytes):
            msg = ForwardMsg()
            msg.ParseFromString(frame)
            kinds.append(msg.WhichOneof("type"))

    page.on("websocket", lambda ws: ws.on("framereceived", received))
    return kinds


def test_the_1d_page_opens_at_its_own_address_on_a_fresh_server(page, fresh_app_url):
    """``/explorer_1d`` (the 1-D page's address beside ``/explorer_2d``) as the first visit
    after a server start: the page with the link's settings, in one script run, with no
    "Page not found" and no second navigation (Streamlit's old pages-folder mode)."""
    kinds = forward_messages(page)
    open_page(page, fresh_app_url + "/explorer_1d?stride=2&step=3", charts=0)
    assert_no_exception(page)
    assert page.get_by_test_id("cx-step").inner_text().startswith("step 3 of 5")
    assert page.get_by_test_id("cx-scrub").get_attribute("max") == "4"  # stride 2: 5 cells
    expect(page.get_by_role("heading", name="1-D convolution explorer")).to_be_visible()
    assert "page_not_found" not in kinds, kinds
    assert kinds.count("navigation") == 1 and kinds.count("script_finished") == 1, kinds
    assert page.get_by_text("Page not found").count() == 0
    assert urlsplit(page.url).path == "/explorer_1d"
    assert_no_js_errors(page)


def test_documented_example_opens_in_the_explorer(page, app_url, artifacts):
    # seed 000 "stride with pad": size 2, stride 2, pad 2 gives 7 outputs (the document
    # printed 10: an erratum); the button must carry every setting to the 1-D explorer
    open_page(page, app_url + "/examples")
    button = page.locator(".st-key-open-puzzlelib-conv1d-stride-pad button")
    button.scroll_into_view_if_needed()
    button.click()
    page.wait_for_url(re.compile(r"stride=2"), timeout=LOAD_TIMEOUT_MS)
    page.wait_for_selector(f"{VIEW} .cx-eq", timeout=LOAD_TIMEOUT_MS)
    wait_until_idle(page)
    assert_no_exception(page)
    expect(page.get_by_role("heading", name=re.compile("1-D convolution explorer"))).to_be_visible()
    query = parse_qs(urlsplit(page.url).query)
    assert query.get("stride") == ["2"] and query.get("pad") == ["2"], page.url
    assert page.get_by_test_id("cx-scrub").get_attribute("max") == "6"  # 7 cells: steps 0..6
    shot(page, artifacts, "example-opened-in-explorer")


def _png(width: int, height: int) -> bytes:
    import io

    import numpy as np
    from PIL import Image

    ramp = np.linspace(0, 255, width, dtype=np.float64)[None, :].repeat(height, axis=0)
    buf = io.BytesIO()
    Image.fromarray(ramp.astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _pickled_npy() -> bytes:
    import io

    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    return buf.getvalue()


def test_upload_is_checked_and_downscaled(page, app_url, artifacts):
    open_page(page, app_url + "/explorer_2d?src=upload", charts=0)
    assert_no_exception(page)
    upload = page.locator('[data-testid="stFileUploaderDropzoneInput"]').first
    # a pickled object array: refused with the rule, shown inline, never unpickled
    upload.set_input_files(files=[{"name": "evil.npy", "mimeType": "application/octet-stream",
                                   "buffer": _pickled_npy()}])
    expect(page.locator('[data-testid="stAlert"]', has_text="Python objects")).to_be_visible(
        timeout=LOAD_TIMEOUT_MS)
    wait_until_idle(page)
    assert_no_exception(page)
    # a wide PNG: read as one gray map, downscaled to 1024 px with a notice
    upload.set_input_files(files=[{"name": "wide.png", "mimeType": "image/png",
                                   "buffer": _png(1100, 22)}])
    expect(page.get_by_text(re.compile(r"downscaled from 22×1100 to 20×1024"))).to_be_visible(
        timeout=LOAD_TIMEOUT_MS)
    page.wait_for_selector(f"{VIEW} .cx-plot .main-svg", timeout=LOAD_TIMEOUT_MS)
    wait_until_idle(page)
    assert_no_exception(page)
    assert page.locator('[data-testid="stAlert"]', has_text="Python objects").count() == 0
    assert page.locator(VIEW).evaluate("r => r.__cx.scene.in_shape") == [20, 1024]
    shot(page, artifacts, "upload-downscaled")


def test_the_gallery_opens_a_case_and_its_twin(page, app_url, artifacts):
    """The gallery's odd case (i 6, k 3, s 2, p 1 → 3): its twin's link opens the transposed
    page in a new tab, in the gather view, giving 6×6 back; its button opens the explorer in
    this tab with the 3×3 output."""
    open_page(page, app_url + "/gallery", charts=0)
    assert_no_exception(page)
    shot(page, artifacts, "gallery-1280")
    link = page.locator('[data-testid="stMarkdown"] a', has_text="twin").nth(6)
    assert link.get_attribute("href").startswith("transposed?shape=3&")
    with page.context.expect_page() as opened:
        link.click()
    tab = opened.value
    tab.wait_for_selector(f"{VIEW} .cx-plot .main-svg", timeout=LOAD_TIMEOUT_MS)
    wait_until_idle(tab)
    shown = tab.locator(VIEW).evaluate("r => [r.__cx.tscene.in_shape, r.__cx.tscene.out_shape, "
                                       "r.__cx.viewMode]")
    assert shown == [[3, 3], [6, 6], "gather"]
    tab.close()
    page.locator(".st-key-gallery-padding_strides_odd button").click()
    page.wait_for_url(re.compile(r"/explorer_2d\?shape=6&"), timeout=LOAD_TIMEOUT_MS)
    page.wait_for_selector(f"{VIEW} .cx-eq", timeout=LOAD_TIMEOUT_MS)
    wait_until_idle(page)
    assert page.locator(VIEW).evaluate("r => r.__cx.scene.out_shape") == [3, 3]
    assert page.get_by_test_id("cx-step").inner_text().startswith("step 1 of 9")
    assert_no_exception(page)
    assert_no_js_errors(page)
