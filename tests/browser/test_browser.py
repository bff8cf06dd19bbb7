"""The app in a real browser: Debian's Chromium driven by Playwright against ``streamlit run``.

What only a browser can show: every page renders its Plotly charts with no exception box, the
Play button animates the sliding window client-side (Plotly frames), a click on an output cell
reaches the server and moves the step, and a shared URL restores the view.  Screenshots of
each state go to ``test-artifacts/`` (git-ignored).
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


def plotly_graphs(page: Page):
    """The rendered Plotly graph divs, in page order."""
    return page.locator(f"{CHART} .js-plotly-plot")


def animated_graph(page: Page):
    """The graph with a Plotly "Play" button (an updatemenus button)."""
    graph = plotly_graphs(page).filter(
        has=page.locator(".updatemenu-button", has_text=re.compile(r"^\s*▶?\s*Play"))).first
    expect(graph).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    return graph


def shape_paths(graph) -> list[str]:
    """The ``d`` attribute of every layout shape drawn in ``graph`` (the window outline and
    friends): what the user sees move."""
    return graph.locator(".shapelayer path").evaluate_all(
        "els => els.map(e => e.getAttribute('d'))")


def window_shape(graph) -> dict:
    """The window outline as the figure's layout holds it now (``x0, x1, y0, y1``)."""
    return graph.evaluate("""gd => {
      const shapes = gd.layout.shapes || [];
      const s = shapes.find(s => s.name === 'window') || shapes[0];
      return s ? {x0: s.x0, x1: s.x1, y0: s.y0, y1: s.y1} : null;
    }""")


def current_step(page: Page) -> int:
    """The step shown by the step slider (Streamlit renders it as ``input[type=range]``)."""
    slider = page.get_by_role("slider", name=re.compile(r"step", re.I)).first
    expect(slider).to_be_attached(timeout=LOAD_TIMEOUT_MS)
    return int(float(slider.get_attribute("aria-valuetext") or slider.input_value()))


# The overlay of output cells: a scatter trace of (nearly) invisible markers whose clicks
# reach Streamlit's on_select.  Returns each point's page coordinates and its step index
# (customdata when the app puts one there, otherwise the point's position in the trace).
_OVERLAY_POINTS_JS = """
gd => {
  const box = gd.getBoundingClientRect();
  const fl = gd._fullLayout;
  const axis = (letter, id) => fl[letter + 'axis' + (id.length > 1 ? id.slice(1) : '')];
  const invisible = t => {
    const m = t.marker || {};
    const alpha = c => typeof c === 'string' && /rgba\\([^)]*,\\s*0(\\.0*)?\\s*\\)$/.test(c);
    const op = Array.isArray(m.opacity) ? Math.max(...m.opacity) : m.opacity;
    return alpha(m.color) || op === 0 || t.opacity === 0;
  };
  const overlays = gd._fullData.map((t, i) => [t, i]).filter(([t]) =>
      t.type === 'scatter' && (t.mode || '').includes('markers') && t.visible === true);
  const found = overlays.find(([t]) => invisible(t))
      || overlays.find(([t]) => /output cells|click/i.test(t.name || ''));
  if (!found) return null;
  const [t, i] = found;
  const xa = axis('x', t.xaxis), ya = axis('y', t.yaxis);
  return gd.calcdata[i].map((cd, j) => {
    let step = j;
    const c = t.customdata && t.customdata[j];
    const n = Array.isArray(c) || ArrayBuffer.isView(c) ? Number(c[0]) : Number(c);
    if (c !== undefined && c !== null && Number.isFinite(n)) step = n;
    return {x: box.left + xa._offset + xa.c2p(cd.x), y: box.top + ya._offset + ya.c2p(cd.y),
            step: step, trace: i, name: t.name};
  });
}
"""


def overlay_points(graph):
    return graph.evaluate(_OVERLAY_POINTS_JS)


def find_overlay(page: Page):
    """(graph, points) of the first chart with a clickable output-cell overlay."""
    graphs = plotly_graphs(page)
    for i in range(graphs.count()):
        points = overlay_points(graphs.nth(i))
        if points:
            return graphs.nth(i), points
    raise AssertionError("no chart with a clickable output-cell overlay (a scatter trace of "
                         "transparent markers) on " + page.url)


def wait_for_step(page: Page, expected: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    step = None
    while time.monotonic() < deadline:
        try:
            step = current_step(page)
        except Exception:  # the slider is re-rendered during the rerun
            step = None
        if step == expected:
            wait_until_idle(page)
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"the step shown is {step}, expected {expected}")


# -------------------------------------------------------------------------------- tests

@pytest.mark.parametrize("path", list(PAGES))
def test_page_loads_with_charts_and_no_exception(page, app_url, artifacts, path):
    name, least = PAGES[path]
    open_page(page, app_url + path, charts=least)
    assert_no_exception(page)
    expect(page.locator("h1").first).to_be_visible()
    charts = page.locator(CHART)
    assert charts.count() >= least, f"{charts.count()} Plotly charts on {path}, expected {least}+"
    for i in range(charts.count()):
        # each chart really drew (a Plotly graph with its SVG), not an empty frame
        expect(charts.nth(i).locator(".js-plotly-plot .main-svg").first).to_be_attached()
    assert_no_js_errors(page)
    shot(page, artifacts, f"page-{name}")


@pytest.mark.parametrize("path", ["/explorer_2d", "/"])
def test_play_moves_the_window_in_the_browser(page, app_url, artifacts, path):
    open_page(page, app_url + path)
    assert_no_exception(page)
    graph = animated_graph(page)
    graph.scroll_into_view_if_needed()
    before = shape_paths(graph)
    assert before, "the animated figure has no layout shape (the window outline)"
    window_before = window_shape(graph)
    step_before = current_step(page)
    name = PAGES[path][0]
    shot(page, artifacts, f"play-{name}-before")

    graph.locator(".updatemenu-button", has_text="Play").first.click()
    seen = {tuple(before)}
    deadline = time.monotonic() + 15
    while len(seen) < 3 and time.monotonic() < deadline:  # the window moved at least twice
        page.wait_for_timeout(100)
        seen.add(tuple(shape_paths(graph)))
    shot(page, artifacts, f"play-{name}-after")
    assert len(seen) >= 3, f"the window outline did not move after Play: {before}"
    assert window_shape(graph) != window_before
    # the animation runs in the browser: no rerun, the server-side step is untouched
    assert current_step(page) == step_before
    assert_no_exception(page)
    assert_no_js_errors(page)


@pytest.mark.parametrize("path", ["/explorer_2d", "/"])
def test_click_on_an_output_cell_jumps_to_its_step(page, app_url, artifacts, path):
    open_page(page, app_url + path)
    graph, points = find_overlay(page)
    start = current_step(page)
    assert len(points) > 1, "the output overlay has a single cell"
    wanted = next(p for p in reversed(points) if p["step"] != start)["step"]
    graph.scroll_into_view_if_needed()
    graph, points = find_overlay(page)  # coordinates after scrolling
    target = next(p for p in points if p["step"] == wanted)
    page.mouse.move(target["x"], target["y"])
    page.wait_for_timeout(150)  # let Plotly register the hover before the click
    page.mouse.click(target["x"], target["y"])
    wait_for_step(page, wanted)
    assert_no_exception(page)
    graph, _ = find_overlay(page)
    assert window_shape(graph) != {}, "no window outline after the jump"
    shot(page, artifacts, f"click-output-cell-{PAGES[path][0]}")


@pytest.mark.parametrize("path,query,step,window", [
    # 1-D: L=10, size 2, stride 2 -> 5 steps; step 3 reads x[6], x[7]
    ("/", "step=3&stride=2", 3, dict(x0=5.5, x1=7.5)),
    # 2-D: 5x5, size 2, stride (2, 1) -> 2x4 outputs; step 5 is cell (1, 1): rows 2-3, cols 1-2
    ("/explorer_2d", "stride=2,1&step=5", 5, dict(x0=0.5, x1=2.5, y0=1.5, y1=3.5)),
])
def test_shared_url_restores_the_view(page, app_url, artifacts, path, query, step, window):
    open_page(page, f"{app_url}{path}?{query}")
    assert_no_exception(page)
    expect(page.locator('[data-testid="stAlert"]', has_text="URL:")).to_have_count(0)
    assert current_step(page) == step
    shown = window_shape(animated_graph(page))
    assert {key: shown[key] for key in window} == window
    # the URL still holds the view after the run rewrote it
    kept = parse_qs(urlsplit(page.url).query)
    assert kept.get("step") == [str(step)], page.url
    assert kept.get("stride") == [parse_qs(query)["stride"][0]], page.url
    shot(page, artifacts, f"shared-url-{PAGES[path][0]}")

    # stepping on from the shared view moves the window by the stride and updates the URL
    page.get_by_role("button", name=re.compile("Next")).click()
    wait_for_step(page, step + 1)
    moved = window_shape(animated_graph(page))
    stride = int(parse_qs(query)["stride"][0].split(",")[-1])
    assert moved["x0"] - shown["x0"] == stride  # the next cell along the last axis
    assert moved != shown
    page.wait_for_function(f"() => new URLSearchParams(location.search).get('step') === "
                           f"'{step + 1}'")
    assert_no_exception(page)


def test_first_visit_by_shared_link_keeps_the_view(page, fresh_app_url, artifacts):
    """The first visitor of a freshly started server opens a shared 2-D link and steps on:
    the view must stay exactly the shared one plus the step (no control falls back to a
    default, no extra query parameter appears)."""
    open_page(page, fresh_app_url + "/explorer_2d?stride=2,1&step=5")
    assert_no_exception(page)
    assert current_step(page) == 5
    page.get_by_role("button", name=re.compile("Next")).click()
    wait_for_step(page, 6)
    page.wait_for_timeout(500)  # the URL is rewritten at the end of the run
    query = parse_qs(page.evaluate("location.search").lstrip("?"))
    shot(page, artifacts, "first-visit-shared-link")
    assert query == {"stride": ["2,1"], "step": ["6"]}, (
        f"after Next the URL holds {query}: the first rerun of the first session changed "
        "other settings")
    assert_no_exception(page)


def test_documented_example_opens_in_the_explorer(page, app_url, artifacts):
    # seed 000 "stride with pad": size 2, stride 2, pad 2 gives 7 outputs (the document
    # printed 10: an erratum); the button must carry every setting to the 1-D explorer
    open_page(page, app_url + "/examples")
    button = page.locator(".st-key-open-puzzlelib-conv1d-stride-pad button")
    button.scroll_into_view_if_needed()
    button.click()
    page.wait_for_url(re.compile(r"stride=2"), timeout=LOAD_TIMEOUT_MS)
    open_charts = page.locator(CHART)
    open_charts.first.wait_for(state="visible", timeout=LOAD_TIMEOUT_MS)
    wait_until_idle(page)
    assert_no_exception(page)
    expect(page.get_by_role("heading", name=re.compile("1-D convolution explorer"))).to_be_visible()
    query = parse_qs(urlsplit(page.url).query)
    assert query.get("stride") == ["2"] and query.get("pad") == ["2"], page.url
    slider = page.get_by_role("slider", name=re.compile(r"step", re.I)).first
    assert slider.get_attribute("max") == "6"  # 7 output cells: steps 0..6
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
    page.locator(CHART).first.wait_for(state="visible", timeout=LOAD_TIMEOUT_MS)
    wait_until_idle(page)
    assert_no_exception(page)
    assert page.locator('[data-testid="stAlert"]', has_text="Python objects").count() == 0
    shot(page, artifacts, "upload-downscaled")
