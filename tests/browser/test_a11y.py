"""Accessibility in Chromium (WCAG 2.2 AA), read from what the page shows:

- axe-core (bundled by ``axe-playwright-python``, no download) on every page and on the views'
  states: no critical and no serious violation; every page reflows at 320 CSS px (no sideways
  scroll of the page);
- the keyboard alone: the skip link reaches the view in a few Tab presses; the grids' cursor
  shows what hover shows — an input cell's readers equal ``cc.coverage``, its tooltip and the
  announced cell say so — Enter pins, Escape clears, Enter on an output cell goes to its step
  and the live region then says ``cc.equation``; on the 3-D page the cursor goes from depth
  slice to depth slice, a voxel's readers equal ``cc.coverage`` and Enter on an output cell
  says ``cc.equation``; on the receptive-field page the cursor's
  input cell reaches the output cells ``cc.cell_receptive_field`` says and Enter pins an
  output cell's field; Space and Enter on Next press it once and keep the focus on it;
- each grid is an image named by its map and size, its values a hidden table equal to the
  core's output (and input, padding at negative indices);
- every number written in a cell contrasts >= 4.5:1 with its cell, measured from a
  screenshot's pixels;
- with reduced motion nothing in the view animates while Play runs.
"""

from __future__ import annotations

import contextlib
from io import BytesIO

import numpy as np
import pytest
from test_browser import assert_no_js_errors, open_page, open_view
from test_explorer_view import computation, core_equation

import convcore as cc

pytestmark = pytest.mark.browser

ROOT_SEL = '[data-testid="cx-root"]'
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PAGES = ["/", "/explorer_2d", "/explorer_3d", "/transposed", "/gallery", "/groups", "/receptive",
         "/network", "/drill", "/examples", "/about"]
# view states: (name, address, JavaScript run on the view `v` once it drew)
# The views' states axe reads, one page load per view: each state is reached from the one
# before it as a user reaches it (a step, the bar's checkboxes, the mode buttons).
STATES = [
    ("explorer", "/explorer_2d?step=5", [
        ("stepping", "v.go(7)"), ("reveal", "v.revealBox.click()"),
        ("predict", "v.revealBox.click(); v.predictBox.click()")]),
    ("transposed", "/transposed?ndim=2&stride=2", [
        ("scatter", "v.go(3)"), ("gather", "v.setMode('gather'); v.go(3)")]),
    ("3-D", "/explorer_3d?step=5", [
        ("stepping", "v.go(7)"), ("predict", "v.predictBox.click()")]),
    ("3-D transposed", "/transposed?ndim=3&stride=2&shape=2,3,3", [
        ("scatter", "v.go(3)"), ("gather", "v.setMode('gather'); v.go(5)")]),
]
# (the 3-D view's slices are small enough to hold numbers at this shape)
CONTRAST_VIEWS = ["/explorer_2d?src=random&kernel=random&step=6", "/transposed?ndim=2&stride=2",
                  "/explorer_3d?src=random&kernel=random&shape=2,3,4&pad=1&step=4"]

# Every written cell number of the view, per grid with labels: [text, left, top, width,
# height] of its text box (the box the glyphs cover: measured width, digit height) in CSS
# pixels from the grid's box, which is marked data-cx-measure=<grid's index>.
NUMBER_BOXES = """() => {
  const v = document.querySelector('[data-testid="cx-root"]').__cx;
  const measure = document.createElement('canvas').getContext('2d');
  const out = {};
  (v.grids ? v.grids() : v.a11y.grids()).forEach((g, i) => {
    if (!g || !g.labels) return;
    g.box.dataset.cxMeasure = String(i);
    const box = g.box.getBoundingClientRect();
    const b = g.dyn.getBoundingClientRect();
    const {size, family, text} = g.labels;
    measure.font = `${size}px ${family}`;
    out[i] = [];
    text.forEach((row, r) => row.forEach((t, c) => {
      if (!t) return;
      const w = Math.min(measure.measureText(t).width, g.cs);
      const h = size * 0.72;
      out[i].push([t, b.left - box.left + (c + 0.5) * g.cs - w / 2,
                   b.top - box.top + (r + 0.5) * g.ch - h / 2, w, h]);
    }));
  });
  return out;
}"""


# ------------------------------------------------------------------------------ measuring

# The page's own pass (app/shared/a11y.py) makes a code block or formula that scrolls sideways
# a tab stop at most 300 ms after the DOM last changed; axe reads the page once it has run.
SCROLLERS_SETTLED = """() => [...document.querySelectorAll(
  '.katex-display, [data-testid="stCode"] pre')].every(
  k => k.hasAttribute('tabindex') || k.scrollWidth <= k.clientWidth + 1)"""


def axe_violations(page) -> list[dict]:
    """axe-core's violations of the WCAG A/AA rules on the page once it has settled (if the
    page's scroll-region pass never runs, axe says so after 5 s)."""
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(SCROLLERS_SETTLED, timeout=5_000)
    result = Axe().run(page, options={"runOnly": {"type": "tag", "values": TAGS},
                                      "resultTypes": ["violations"]})
    return result.response["violations"]


def axe_counts(page) -> dict:
    counts = {"critical": 0, "serious": 0, "moderate": 0, "minor": 0}
    rules = []
    for v in axe_violations(page):
        counts[v["impact"]] += 1
        rules.append(f"{v['id']} ({v['impact']}, {len(v['nodes'])})")
    return {**counts, "rules": rules}


def luminance(rgb) -> float:
    c = np.asarray(rgb, dtype=float) / 255
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(c @ [0.2126, 0.7152, 0.0722])


def number_contrast(pixels: np.ndarray, box, scale: float) -> float:
    """WCAG contrast of one written number: the pixel of its box farthest from the box's
    commonest colour (its cell) against that colour."""
    _, x, y, w, h = box
    x0, y0 = int(x * scale), int(y * scale)
    x1, y1 = int((x + w) * scale + 0.999), int((y + h) * scale + 0.999)
    patch = pixels[y0:y1, x0:x1, :3].reshape(-1, 3)
    if not len(patch):
        return float("nan")
    colours, counts = np.unique(patch, axis=0, return_counts=True)
    back = colours[counts.argmax()]
    lum = np.array([luminance(c) for c in colours])
    lb = luminance(back)
    ratios = (np.maximum(lum, lb) + 0.05) / (np.minimum(lum, lb) + 0.05)
    return float(ratios.max())


def contrast_of_numbers(page, address: str) -> list[tuple[str, float]]:
    """(text, contrast) of every number the view at `address` writes in a cell, from a
    screenshot of each grid (Streamlit's main area scrolls: one grid at a time)."""
    from PIL import Image

    open_view(page, address)
    page.mouse.move(1, 1)
    page.wait_for_timeout(300)
    found = []
    for i, boxes in page.evaluate(NUMBER_BOXES).items():
        shot = page.locator(f'[data-cx-measure="{i}"]').screenshot()
        image = np.asarray(Image.open(BytesIO(shot)).convert("RGB"))
        scale = image.shape[1] / page.evaluate(
            f"() => document.querySelector('[data-cx-measure=\"{i}\"]')"
            ".getBoundingClientRect().width")
        found += [(b[0], number_contrast(image, b, scale)) for b in boxes]
    return found


def tabs_to(page, selector: str, limit: int = 80) -> int | None:
    """Tab presses from the top of a freshly loaded page until the focus is in `selector`
    (the skip link, when it is the focus, is followed with Enter, which is not counted)."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); "
                  "window.scrollTo(0, 0); }")
    for n in range(1, limit + 1):
        page.keyboard.press("Tab")
        where = page.evaluate(f"""() => {{
          const a = document.activeElement;
          if (a && a.closest('{selector}')) return 'in';
          return a && a.classList.contains('cx-skip') ? 'skip' : '';
        }}""")
        if where == "in":
            return n
        if where == "skip":
            page.keyboard.press("Enter")
            if page.evaluate(f"() => !!document.activeElement.closest('{selector}')"):
                return n
    return None


def tab_to_grids(page, limit: int = 40) -> None:
    """Press Tab until the grids (the cursor's tab stop) have the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.dataset.testid === 'cx-grids'"):
            return
    raise AssertionError(f"{limit} Tab presses never reached the grids")


def serious(violations: list[dict]) -> list[str]:
    return [f"{v['id']} ({v['impact']}): " + "; ".join(
        f"{n['target']} {(n.get('failureSummary') or '')[:200]}" for n in v["nodes"][:4])
        for v in violations if v["impact"] in ("serious", "critical")]


def open_any(page, address: str) -> None:
    """Open a page and wait for what it draws (a view, plotly's figure, the network)."""
    open_page(page, address, charts=0)
    path = "/" + address.split("//", 1)[1].partition("/")[2].split("?")[0]
    if path in ("/", "/explorer_2d", "/explorer_3d", "/transposed", "/receptive"):
        page.wait_for_selector(".cx-plot .main-svg", timeout=45_000)
    if "/network" in address:
        page.wait_for_selector('[data-testid="cx-net-root"] canvas', timeout=45_000)


def live(page) -> dict:
    return page.evaluate("""() => ({
      said: document.querySelector('[data-testid="cx-live"]').textContent,
      cellSaid: document.querySelector('[data-testid="cx-live-cell"]').textContent,
      tip: document.querySelector('[data-testid="cx-root"] .cx-tip').style.display === 'none' ?
        '' : document.querySelector('[data-testid="cx-root"] .cx-tip').textContent,
      ...document.querySelector('[data-testid="cx-root"]').dataset})""")


def cursor_grid_kind(page) -> str:
    return page.evaluate(f"""() => {{
      const r = document.querySelector('{ROOT_SEL}');
      const [g] = JSON.parse(r.dataset.cursor);
      return r.__cx.a11y.grids()[g].kind;
    }}""")


def cursor_to(page, row: int, col: int) -> None:
    """Move the grids' cursor to display cell (row, col) with the arrow keys."""
    here = page.evaluate(f"() => JSON.parse(document.querySelector('{ROOT_SEL}')"
                         ".dataset.cursor).slice(1)")
    for _ in range(abs(row - here[0])):
        page.keyboard.press("ArrowDown" if row > here[0] else "ArrowUp")
    for _ in range(abs(col - here[1])):
        page.keyboard.press("ArrowRight" if col > here[1] else "ArrowLeft")


# ------------------------------------------------------------------------------ axe, reflow

@pytest.mark.parametrize("path", PAGES)
def test_axe_finds_no_serious_violation_and_the_page_reflows_at_320_px(page, app_url, path):
    open_any(page, app_url + path)
    found = axe_violations(page)
    assert not serious(found), serious(found)
    page.set_viewport_size({"width": 320, "height": 720})
    page.wait_for_timeout(800)
    width = page.evaluate("() => [document.documentElement.scrollWidth, "
                          "document.documentElement.clientWidth]")
    assert width[0] <= width[1], f"{path} scrolls sideways at 320 CSS px: {width}"
    assert_no_js_errors(page)


@pytest.mark.parametrize("name,address,states", STATES, ids=[s[0] for s in STATES])
def test_axe_finds_no_serious_violation_in_the_views_states(page, app_url, name, address,
                                                            states):
    open_view(page, app_url + address)
    found = {}
    for state, js in states:
        page.evaluate(f"() => {{ const v = document.querySelector('{ROOT_SEL}').__cx; {js}; }}")
        page.wait_for_timeout(200)
        found[state] = serious(axe_violations(page))
    assert found == {state: [] for state, _ in states}, found
    assert_no_js_errors(page)


# ------------------------------------------------------------------------------ keyboard

def test_the_skip_link_reaches_the_view_within_five_tab_presses(page, app_url):
    open_view(page, app_url + "/explorer_2d")
    n = tabs_to(page, ROOT_SEL)
    assert n is not None and n <= 5, n
    assert page.evaluate(f"() => document.activeElement === document.querySelector('{ROOT_SEL}')")


def test_the_keyboard_cursor_shows_what_hover_shows_with_the_core(page, app_url):
    query = {"shape": "6,7", "size": "3,2", "stride": "2,1", "pad": "1", "dilation": "1,2",
             "src": "random"}
    s, comp = computation(2, query)
    cov = cc.coverage(comp.x.shape[2:], comp.weight.shape[2:], s.stride, s.padding, s.dilation)
    lo = [p[0] for p in comp.padded.pads]
    open_view(page, app_url + "/explorer_2d?" + "&".join(f"{k}={v}" for k, v in query.items()))
    assert tabs_to(page, ROOT_SEL) is not None  # the skip link: the view's root has the focus
    # the arrows step anywhere in the view; the live region says the step's equation
    page.keyboard.press("ArrowRight")
    got = live(page)
    assert got["said"] == f"step 2 of {comp.steps}: " + core_equation(s, comp, 1), got
    # Tab reaches the grids; the cursor starts on the step's output cell
    tab_to_grids(page)
    got = live(page)
    assert cursor_grid_kind(page) == "output" and got["hover"] == "output"
    value = core_equation(s, comp, 1).rsplit(" = ", 1)[1]
    assert f"out[0,0,0,1] = {value}" in got["cellSaid"] and got["tip"].startswith(
        f"out[0,0,0,1] = {value}"), got
    assert got["cellSaid"].startswith("output out[0,0]")  # the grid's name, once
    # G: the next grid (the other output map, then the input); an input cell's readers are
    # the core's coverage
    kinds = []
    while cursor_grid_kind(page) != "input" and len(kinds) < 8:
        page.keyboard.press("g")
        kinds.append(cursor_grid_kind(page))
    assert kinds == ["omap", "input"], kinds
    for i, j in ((0, 0), (3, 4), (5, 6)):
        cursor_to(page, i + lo[0], j + lo[1])
        got = live(page)
        n = int(cov.counts[i, j])
        lit = [int(v) for v in got["lit"].split(",") if v]
        assert got["hover"] == "input" and len(lit) == n, (i, j, got)
        tail = f"read by {n} window{'' if n == 1 else 's'}"
        assert got["tip"].endswith(tail) and got["cellSaid"].endswith(tail), got
        assert f"x[0,0,{i},{j}] = " in got["tip"]
    # Enter pins what the cursor shows, Escape clears it and the tooltip
    page.keyboard.press("Enter")
    assert live(page)["pinned"] == "input"
    page.keyboard.press("Escape")
    got = live(page)
    assert got["pinned"] == "" and got["tip"] == ""
    # back to the output (Shift+G), Enter on a cell goes to its step
    while cursor_grid_kind(page) != "output":
        page.keyboard.press("Shift+G")
    cursor_to(page, 2, 3)
    page.keyboard.press("Enter")
    step = int(np.ravel_multi_index((2, 3), tuple(comp.out_spatial)))
    got = live(page)
    assert got["said"] == f"step {step + 1} of {comp.steps}: " + core_equation(s, comp, step)
    assert page.evaluate("() => document.activeElement.dataset.testid") == "cx-grids"
    assert_no_js_errors(page)


def test_each_grid_is_a_named_image_with_the_cores_values_as_a_table(page, app_url):
    query = {"shape": "6,7", "size": "3,2", "stride": "2,1", "pad": "1", "src": "random"}
    _, comp = computation(2, query)
    open_view(page, app_url + "/explorer_2d?" + "&".join(f"{k}={v}" for k, v in query.items()))
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"cx-tables\"] "
                           "table').length >= 4")
    tables = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
        '[data-testid="cx-tables"] table')].map((t) => [t.caption.textContent,
          [...t.rows].map((r) => [...r.cells].map((c) => c.textContent))]))""")
    names = page.evaluate(f"""() => [...document.querySelectorAll('{ROOT_SEL} [role="img"]')]
        .map((e) => e.getAttribute('aria-label'))""")
    ph, pw = [n + a + b for n, (a, b) in zip(comp.x.shape[2:], comp.padded.pads)]
    oh, ow = comp.out_spatial
    shown = f"output out[0,0] (shown), {oh} by {ow}"
    assert f"input x[0,0], {ph} by {pw}, padded" in names and shown in names, names
    # the shown output's table: row and column names, then the core's values as written
    out = tables[shown]
    assert out[0] == [""] + [str(c) for c in range(ow)]
    assert [r[0] for r in out[1:]] == [str(r) for r in range(oh)]
    assert [r[1:] for r in out[1:]] == [[cc.text.format_number(v) for v in row]
                                        for row in comp.out[0, 0]]
    # the input's: the padding's rows and columns named by their (negative) index
    x = tables[f"input x[0,0], {ph} by {pw}, padded"]
    assert x[0][1] == cc.text.format_number(-1) and x[2][2] == \
        cc.text.format_number(comp.x[0, 0, 0, 0])


def test_the_3d_pages_cursor_reads_voxels_and_steps_with_the_core(page, app_url):
    from test_volume_view import address
    from test_volume_view import computation as computation_3d

    from app.shared import model

    query = {"src": "random", "shape": "3,4,5", "size": "2,3,2", "stride": "1,2,1", "pad": "1",
             "dilation": "1,1,2"}
    s, comp = computation_3d(query)
    cov = cc.coverage(comp.x.shape[2:], comp.weight.shape[2:], s.stride, s.padding, s.dilation)
    lo = [p[0] for p in comp.padded.pads]
    out_d = comp.out_spatial[0]
    open_view(page, address(app_url, query))
    assert tabs_to(page, ROOT_SEL) is not None
    page.keyboard.press("ArrowRight")  # the arrows step anywhere in the view
    got = live(page)
    assert got["said"] == f"step 2 of {comp.steps}: " + cc.equation(model.step_trace(comp, s, 1))
    # Tab reaches the slices; the cursor starts on the step's output cell, in its depth slice
    tab_to_grids(page)
    got = live(page)
    assert cursor_grid_kind(page) == "output" and got["hover"] == "output", got
    assert json_cursor(page) == [0, 0, 1]
    assert got["cellSaid"].startswith("output out[0,0] depth 0, ")  # the slice's name, once
    # G goes from slice to slice: the output's depths, then the input's (padded) depths
    for i, j, k in ((0, 0, 0), (1, 2, 3), (2, 3, 4), (0, 3, 1)):
        while json_cursor(page)[0] != out_d + i + lo[0]:
            page.keyboard.press("Shift+G" if json_cursor(page)[0] > out_d + i + lo[0] else "g")
        assert cursor_grid_kind(page) == "input"
        cursor_to(page, j + lo[1], k + lo[2])
        got = live(page)
        n = int(cov.counts[i, j, k])
        lit = [int(v) for v in got["lit"].split(",") if v]
        assert got["hover"] == "input" and len(lit) == n, ((i, j, k), got)
        tail = f"read by {n} window{'' if n == 1 else 's'}"
        assert got["tip"].endswith(tail) and got["cellSaid"].endswith(tail), got
        assert f"x[0,0,{i},{j},{k}] = " in got["tip"], got
    # Enter pins the voxel, Escape clears the pin and the tooltip
    page.keyboard.press("Enter")
    assert live(page)["pinned"] == "input"
    page.keyboard.press("Escape")
    got = live(page)
    assert got["pinned"] == "" and got["tip"] == ""
    # back to the output's last depth slice (Shift+G), Enter on a cell goes to its step and
    # the live region says the core's equation
    while json_cursor(page)[0] != out_d - 1:
        page.keyboard.press("Shift+G")
    cursor_to(page, 1, 2)
    page.keyboard.press("Enter")
    step = int(np.ravel_multi_index((out_d - 1, 1, 2), tuple(comp.out_spatial)))
    got = live(page)
    assert got["step"] == str(step)
    assert got["said"] == f"step {step + 1} of {comp.steps}: " + cc.equation(
        model.step_trace(comp, s, step))
    assert page.evaluate("() => document.activeElement.dataset.testid") == "cx-grids"
    # each slice is a named image; the output's last slice's table holds the core's values
    name = f"output out[0,0] depth {out_d - 1}, {comp.out_spatial[1]} by {comp.out_spatial[2]}"
    assert name in page.evaluate(f"""() => [...document.querySelectorAll(
        '{ROOT_SEL} [role="img"]')].map((e) => e.getAttribute('aria-label'))""")
    page.wait_for_function(f"""() => [...document.querySelectorAll(
        '[data-testid="cx-tables"] caption')].some((c) => c.textContent === '{name}')""")
    table = page.evaluate(f"""() => [...[...document.querySelectorAll(
        '[data-testid="cx-tables"] table')].find((t) => t.caption.textContent === '{name}')
        .rows].map((r) => [...r.cells].map((c) => c.textContent))""")
    assert [r[1:] for r in table[1:]] == [[cc.text.format_number(v) for v in row]
                                          for row in comp.out[0, 0, out_d - 1]]
    assert_no_js_errors(page)


def json_cursor(page) -> list[int]:
    return page.evaluate(f"() => JSON.parse(document.querySelector('{ROOT_SEL}').dataset.cursor)")


def test_the_receptive_fields_cursor_shows_the_cores_fields(page, app_url):
    from test_pages_view import ROOT_SEL as RF_SEL
    from test_pages_view import layers_of, shown_field
    from test_pages_view import open_view as open_rf

    layers = layers_of([(3, 2, 1, 1), (3, 1, 2, 0), (2, 1, 1, 0)])
    open_rf(page, app_url + "/receptive?in=15,13&layers=k3s2p1,k3d2,k2")
    assert tabs_to(page, RF_SEL) is not None
    tab_to_grids(page)
    cursor = page.evaluate(f"() => JSON.parse(document.querySelector('{RF_SEL}')"
                           ".dataset.cursor)")
    assert cursor == [3, 1, 0]  # the output level, at the pinned centre cell (1, 0)
    # G: from the output to the input; (1, 1) reaches the output cells the core says
    page.keyboard.press("g")
    for key in ("ArrowDown", "ArrowRight", "ArrowLeft", "ArrowUp", "ArrowRight"):
        page.keyboard.press(key)
    f = shown_field(page)
    assert f["dataset"]["cell"] == "[1,1]" and f["level"] == 0, f["dataset"]
    out = cc.receptive_field(layers, in_spatial=(15, 13)).out_spatial
    paths = np.array([cc.cell_receptive_field(layers, (15, 13), o).paths[1, 1]
                      for o in np.ndindex(*out)])
    n = int((paths > 0).sum())
    said = page.evaluate("() => document.querySelector('[data-testid=\"cx-live-cell\"]')"
                         ".textContent")
    tip = page.inner_text(f"{RF_SEL} .cx-tip")
    assert tip.startswith(f"input (1,1): reaches {n} output cell") and \
        f"reaches {n} output cell" in said, (tip, said)
    # back to the output (Shift+G: the cursor keeps its cell, (1, 1)), one cell down, Enter
    # pins it: its field is the core's
    page.keyboard.press("Shift+G")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    f = shown_field(page)
    cf = cc.cell_receptive_field(layers, (15, 13), (2, 1))
    assert f["dataset"]["pinned"] == "[2,1]" and f["input"] == cf.paths.ravel().tolist()
    assert_no_js_errors(page)


def test_space_and_enter_on_next_press_it_once_and_keep_the_focus(page, app_url):
    open_view(page, app_url + "/explorer_2d")
    nxt = page.locator('[data-testid="cx-next"]')
    nxt.focus()
    page.keyboard.press("Enter")
    assert page.locator(ROOT_SEL).get_attribute("data-step") == "1"
    page.keyboard.press("Enter")
    assert page.locator(ROOT_SEL).get_attribute("data-step") == "2"
    page.keyboard.press(" ")
    page.wait_for_timeout(300)
    assert page.locator(ROOT_SEL).get_attribute("data-step") == "3"
    assert page.evaluate(f"() => !document.querySelector('{ROOT_SEL}').__cx.playing")
    assert page.evaluate("() => document.activeElement.dataset.testid") == "cx-next"
    # a click outside the view (the page's title; Streamlit's main area takes the focus): the
    # arrows still step, Space does not play
    page.locator('[data-testid="stMain"] h1').first.click()
    assert page.evaluate("() => document.activeElement.dataset.testid") == "stMain"
    page.keyboard.press("ArrowRight")
    assert page.locator(ROOT_SEL).get_attribute("data-step") == "4"
    page.keyboard.press(" ")
    page.wait_for_timeout(300)
    assert page.evaluate(f"() => !document.querySelector('{ROOT_SEL}').__cx.playing")
    assert page.locator(ROOT_SEL).get_attribute("data-step") == "4"


# ------------------------------------------------------------------------------ contrast

@pytest.mark.parametrize("address", CONTRAST_VIEWS)
def test_every_cell_number_contrasts_at_least_4_5_to_1_in_the_pixels(browser, app_url,
                                                                     address):
    context = browser.new_context(viewport={"width": 1280, "height": 720},
                                  device_scale_factor=2)
    try:
        found = contrast_of_numbers(context.new_page(), app_url + address)
    finally:
        context.close()
    assert len(found) >= 20, found
    low = [(t, round(r, 2)) for t, r in found if not r >= 4.5]
    assert not low, low


# ------------------------------------------------------------------------------ motion

def test_with_reduced_motion_nothing_in_the_view_animates_during_play(browser, app_url):
    context = browser.new_context(viewport={"width": 1280, "height": 720},
                                  reduced_motion="reduce")
    try:
        page = context.new_page()
        open_view(page, app_url + "/?speed=8")
        page.click('[data-testid="cx-play"]')
        page.wait_for_timeout(500)
        running = page.evaluate(f"""() => {{
          const r = document.querySelector('{ROOT_SEL}');
          const moving = document.getAnimations().filter((a) => r.contains(a.effect.target));
          const styled = [...r.querySelectorAll('*')].filter((e) => {{
            const cs = getComputedStyle(e);
            return parseFloat(cs.transitionDuration) > 0 || cs.animationName !== 'none';
          }}).length;
          return [r.__cx.playing, moving.length, styled];
        }}""")
        assert running == [True, 0, 0], running
    finally:
        context.close()
