"""The explorer's browser view in Chromium: what the page shows is compared with the core.

- the browser's window rule (``geometry.js``) against ``cc.window_map`` on every step of small
  configurations and sampled steps of large ones, and its "which outputs read this cell"
  against ``cc.coverage``; its number formatting against convcore's;
- hovering an output lights its taps (= ``cc.window_map``), hovering an input lights the
  outputs that read it (= ``cc.coverage``), hovering a kernel tap the cell it multiplies;
- the equation the page shows equals ``cc.equation`` at sampled steps (1-D, 2-D, reflect
  padding, dilation, groups=2);
- Play continues from the current step and, once stopped, the server-side panel and the URL
  show where it stopped; the scrubber reaches the last step of a 100×100 output; no websocket
  message leaves the page while stepping, hovering or playing;
- at 390 px nothing overlaps; the offline HTML export is the same view (presenter mode at
  1280×720: test_view_controls.py).
"""

from __future__ import annotations

import json
import math
import re
import time

import numpy as np
import pytest
from test_browser import (
    COUNT_WS_SENDS,
    LOAD_TIMEOUT_MS,
    assert_no_js_errors,
    open_view,
    shot,
    wait_until_idle,
)

import convcore as cc
from app.shared import export, model, url, view
from app.shared import scene as scenes

pytestmark = pytest.mark.browser

ROOT_SEL = '[data-testid="cx-root"]'


# ------------------------------------------------------------------------------ helpers


def state(page) -> dict:
    return page.evaluate(f"""() => {{
      const r = document.querySelector('{ROOT_SEL}');
      return {{...r.dataset, steps: r.__cx.steps}};
    }}""")


def step_of(page) -> int:
    return int(state(page)["step"])


def equation(page) -> str:
    return page.inner_text(f"{ROOT_SEL} .cx-eq")


def go(page, step: int) -> None:
    page.evaluate(f"() => document.querySelector('{ROOT_SEL}').__cx.go({step})")


def center(page, grid: str, row: float, col: float, index: int = 0) -> tuple[float, float]:
    """Page coordinates of display cell (row, col) of a grid: "input", "kernel", "output"."""
    return tuple(page.evaluate("""([grid, row, col, index]) => {
      const v = document.querySelector('[data-testid="cx-root"]').__cx;
      const g = grid === 'output' ? v.output : (grid === 'input' ? v.inputs : v.kernels)[index];
      g.dyn.scrollIntoView({block: 'center'});
      const b = g.dyn.getBoundingClientRect();
      return [b.left + (col + 0.5) * g.cs, b.top + (row + 0.5) * g.ch];
    }""", [grid, row, col, index]))


def hover(page, grid: str, row: int, col: int, index: int = 0) -> dict:
    x, y = center(page, grid, row, col, index)
    page.mouse.move(x, y)
    page.wait_for_function(f"() => document.querySelector('{ROOT_SEL}').dataset.hover === "
                           f"'{grid}'", timeout=5000)
    return state(page)


def computation(ndim: int, query: dict):
    s, problems = url.from_query(query, ndim)
    assert not problems
    return s, model.compute(s)


def core_equation(s, comp, step: int) -> str:
    return cc.equation(model.step_trace(comp, s, step))


def load_js(page, app_url: str) -> None:
    """Make the view's own modules callable as window.geometry / window.format."""
    page.goto(app_url + "/app/static/view/geometry.js")
    page.evaluate(f"""async () => {{
      window.geometry = await import('{app_url}/app/static/view/geometry.js');
      window.format = await import('{app_url}/app/static/view/format.js');
    }}""")


# ------------------------------------------------------------------------------ the rule

def random_geometries(rng, n: int, big: bool = False):
    found = 0
    while found < n:
        nd = int(rng.integers(1, 3))
        shape = tuple(int(v) for v in rng.integers(40 if big else 1, (300 if big else 12) + 1,
                                                    nd))
        kernel = tuple(int(v) for v in rng.integers(1, 6, nd))
        stride = tuple(int(v) for v in rng.integers(1, 4, nd))
        dilation = tuple(int(v) for v in rng.integers(1, 4, nd))
        pads = tuple((int(a), int(b)) for a, b in rng.integers(0, 4, (nd, 2)))
        try:
            wmap = cc.window_map(shape, kernel, stride, pads, dilation)
        except cc.ConvError:
            continue
        found += 1
        yield dict(in_shape=list(shape), kernel=list(kernel), stride=list(stride),
                   dilation=list(dilation), pads=[list(p) for p in pads],
                   out_shape=list(wmap.out_spatial)), wmap


def test_the_browser_window_rule_is_the_core_window_map(page, app_url):
    load_js(page, app_url)
    rng = np.random.default_rng(11)
    cases = [(g, w, list(range(w.steps))) for g, w in random_geometries(rng, 60)]
    for g, w in random_geometries(rng, 6, big=True):
        steps = sorted({0, w.steps - 1, *rng.integers(0, w.steps, 200).tolist()})
        cases.append((g, w, steps))
    got = page.evaluate("""cases => cases.map(([g, steps]) =>
        steps.map(s => window.geometry.windowTaps(g, s)))""", [[g, s] for g, _, s in cases])
    for (g, wmap, steps), taps in zip(cases, got):
        np.testing.assert_array_equal(np.asarray(taps), wmap.coords[steps], err_msg=str(g))


def test_the_browser_readers_rule_counts_what_the_core_coverage_counts(page, app_url):
    load_js(page, app_url)
    rng = np.random.default_rng(12)
    for g, _ in random_geometries(rng, 40):
        counts = page.evaluate("""g => {
          const out = [];
          const n = g.in_shape.reduce((a, b) => a * b, 1);
          for (let i = 0; i < n; i++) {
            const u = window.geometry.unravel(i, g.in_shape);
            out.push(window.geometry.readers(g, u.map((v, a) => v + g.pads[a][0])).length);
          }
          return out;
        }""", g)
        cov = cc.coverage(tuple(g["in_shape"]), tuple(g["kernel"]), tuple(g["stride"]),
                          tuple(map(tuple, g["pads"])), tuple(g["dilation"]))
        assert counts == cov.counts.ravel().tolist(), g


NUMBERS = [0.0, -0.0, 1.0, -1.0, 2.5, -1.5, 0.1, 1 / 3, -2 / 3, 12.125, 12.135, 0.00012345,
           0.000123455, 1.0005, 9999.5, 99995.0, 123456.789, 1e15, 1e15 + 2, -1e16, 2.0**60,
           1e-7, -3.4e38, 3.4028234663852886e38, float("inf"), float("-inf"), float("nan"),
           0.5, 1.25e-5, 6.103515625e-05, 1234.5, 1235.5, 0.30000000000000004]


def test_the_browser_writes_numbers_as_the_core_does(page, app_url):
    load_js(page, app_url)
    rng = np.random.default_rng(13)
    values = NUMBERS + [float(v) for v in rng.standard_normal(300) * 10.0 ** rng.integers(
        -8, 9, 300)] + [float(np.float32(v)) for v in rng.standard_normal(200)]
    shown = page.evaluate("vs => vs.map(v => window.format.fmt(v))",
                          [v if math.isfinite(v) else {"inf": "Infinity", "-inf": "-Infinity",
                                                       "nan": "NaN"}[str(v)] for v in values])
    assert shown == [cc.format_number(v) for v in values]


# ------------------------------------------------------------------------------ hover

def test_hover_links_outputs_inputs_and_kernel_taps_with_the_core(page, app_url, artifacts):
    query = {"shape": "6,7", "size": "3,2", "stride": "2,1", "pad": "1", "dilation": "1,2",
             "src": "random"}
    s, comp = computation(2, query)
    open_view(page, f"{app_url}/explorer_2d?" + "&".join(f"{k}={v}" for k, v in query.items()))
    wmap = cc.window_map(comp.x.shape[2:], comp.weight.shape[2:], s.stride, s.padding,
                         s.dilation)
    cov = cc.coverage(comp.x.shape[2:], comp.weight.shape[2:], s.stride, s.padding, s.dilation)
    # an output cell: its window's taps, and its equation in place of the step's
    out_shape = wmap.out_spatial
    for r, c in ((0, 0), (2, 3), (out_shape[0] - 1, out_shape[1] - 1)):
        got = hover(page, "output", r, c)
        k = r * out_shape[1] + c
        assert json.loads(got["taps"]) == wmap.coords[k].tolist()
        assert equation(page) == core_equation(s, comp, k)
    shot(page, artifacts, "view-hover-output")
    # an input cell: the outputs whose windows read it, as many as the core counts
    lo = [p[0] for p in comp.padded.pads]
    for i, j in ((0, 0), (3, 4), (5, 6), (2, 0)):
        got = hover(page, "input", i + lo[0], j + lo[1])
        lit = [int(v) for v in got["lit"].split(",") if v]
        assert len(lit) == cov.counts[i, j], (i, j)
        for k in lit:  # and each of them really has a tap on that cell
            assert [i + lo[0], j + lo[1]] in wmap.coords[k].tolist()
    shot(page, artifacts, "view-hover-input")
    # a kernel tap: the input cell it multiplies at the current step
    go(page, 5)
    got = hover(page, "kernel", 2, 2)  # dilation 2 along W: tap (2, 1)
    taps = wmap.coords[5].reshape(3, 2, 2)
    assert json.loads(got["cell"]) == taps[2, 1].tolist()
    assert "this step:" in page.inner_text(f"{ROOT_SEL} .cx-tip")
    # a click pins the highlight; leaving the cell keeps it until Escape
    x, y = center(page, "input", 3, 3)
    page.mouse.click(x, y)
    page.mouse.move(2, 2)
    assert state(page)["pinned"] == "input" and state(page)["hover"] == "input"
    page.keyboard.press("Escape")
    assert state(page)["hover"] == ""
    assert_no_js_errors(page)


def test_click_on_an_output_cell_jumps_to_its_step(page, app_url):
    open_view(page, app_url + "/explorer_2d")
    x, y = center(page, "output", 2, 1)
    page.mouse.click(x, y)
    assert step_of(page) == 9
    assert equation(page).startswith("out[0,0,2,1] = ")


# ------------------------------------------------------------------------------ equations

EQUATION_CASES = {
    "1-D": (1, {"src": "random", "shape": "17", "size": "4", "stride": "3", "pad": "2",
                "bias": "0.25"}),
    "2-D": (2, {}),
    "reflect": (2, {"src": "random", "shape": "5,6", "size": "3", "pad": "2",
                    "mode": "reflect"}),
    "dilation": (2, {"shape": "9,8", "size": "3,2", "dilation": "3,2", "stride": "2,1"}),
    "groups=2": (2, {"src": "random", "inmaps": "4", "outmaps": "4", "groups": "2",
                     "shape": "6,5", "size": "3", "omap": "3", "pad": "1:0,0:2"}),
}


@pytest.mark.parametrize("case", list(EQUATION_CASES))
def test_the_equation_shown_is_the_core_equation(page, app_url, case):
    ndim, query = EQUATION_CASES[case]
    s, comp = computation(ndim, query)
    path = "/explorer_1d" if ndim == 1 else "/explorer_2d"
    open_view(page, f"{app_url}{path}?" + "&".join(f"{k}={v}" for k, v in query.items()))
    steps = comp.steps
    sample = sorted({0, 1, steps // 2, steps - 1,
                     *np.random.default_rng(len(case)).integers(0, steps, 6).tolist()})
    for step in sample:
        go(page, step)
        assert equation(page) == core_equation(s, comp, step), (case, step)
    if case == "groups=2":  # both input maps of output map 3's group are drawn
        assert page.locator(".cx-input").count() == 2
        assert "x[2," in equation(page) and "x[3," in equation(page)
    assert_no_js_errors(page)


# ------------------------------------------------------------------------------ stepping

def test_play_continues_from_the_step_and_the_page_follows_where_it_stopped(page, app_url,
                                                                         artifacts):
    s, comp = computation(2, {"shape": "9,9", "speed": "8"})
    open_view(page, app_url + "/explorer_2d?shape=9,9&step=4&speed=8")
    assert step_of(page) == 3  # the URL's step 4 is raster index 3
    seen = []
    page.click('[data-testid="cx-play"]')
    deadline = time.monotonic() + 4
    while len(set(seen)) < 4 and time.monotonic() < deadline:
        seen.append(step_of(page))
        page.wait_for_timeout(60)
    page.click('[data-testid="cx-play"]')  # pause
    stopped = step_of(page)
    assert seen[0] >= 3 and min(seen) >= 3 and stopped > 3, seen
    assert seen == sorted(seen)  # forwards, one step after another
    page.wait_for_function(f"() => new URLSearchParams(location.search).get('step') === "
                           f"'{stopped + 1}'", timeout=10_000)
    wait_until_idle(page)
    panel = page.locator('[data-testid="stMarkdown"] code', has_text="out[").first.inner_text()
    assert panel == core_equation(s, comp, stopped) == equation(page)
    shot(page, artifacts, "view-play-stopped")


def test_the_scrubber_reaches_every_step_of_a_100x100_output(page, app_url):
    open_view(page, app_url + "/explorer_2d?shape=100,100&size=1&src=random")
    scrub = page.locator('[data-testid="cx-scrub"]')
    assert scrub.get_attribute("max") == "9999"
    scrub.focus()
    page.keyboard.press("End")
    assert step_of(page) == 9999
    assert equation(page).startswith("out[0,0,99,99] = ")
    page.keyboard.press("ArrowLeft")
    assert step_of(page) == 9998
    assert "step 9999 of 10000" in page.inner_text('[data-testid="cx-step"]')


def test_keys_buttons_and_no_message_to_the_server_while_stepping(page, app_url):
    page.add_init_script(COUNT_WS_SENDS)
    open_view(page, app_url + "/explorer_2d?shape=8,8")
    page.wait_for_timeout(600)
    sent = page.evaluate("window.__wsSent")

    def new_sends() -> int:
        return page.evaluate("window.__wsSent") - sent

    page.locator(ROOT_SEL).focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    for _ in range(3):
        page.click('[data-testid="cx-next"]')
    page.click('[data-testid="cx-prev"]')
    assert step_of(page) == 7
    assert new_sends() == 0  # stepping stays in the page
    page.wait_for_timeout(1000)
    assert new_sends() == 1  # one report once the user stopped
    for r, c in ((0, 0), (3, 3), (6, 2), (7, 7)):
        hover(page, "input", r, c)
        hover(page, "output", min(r, 6), min(c, 6))
    assert new_sends() == 1  # hovering sends nothing
    page.click('[data-testid="cx-play"]')
    page.wait_for_timeout(700)
    assert new_sends() == 1 and step_of(page) > 7  # nor does Play
    page.click('[data-testid="cx-play"]')
    page.wait_for_timeout(1000)
    assert new_sends() == 2  # one report where Play stopped


def test_whole_output_or_revealed_as_the_window_moves(page, app_url):
    open_view(page, app_url + "/explorer_2d")

    def covered(row, col) -> bool:
        return page.evaluate("""([row, col]) => {
          const v = document.querySelector('[data-testid="cx-root"]').__cx;
          const g = v.output, dpr = window.devicePixelRatio || 1;
          const px = g.ctx.getImageData(Math.round((col + 0.5) * g.cs * dpr),
                                        Math.round((row + 0.5) * g.ch * dpr), 1, 1).data;
          return px[3] > 200 && px[0] > 230 && px[1] > 230 && px[2] > 230;
        }""", [row, col])

    go(page, 5)
    assert not covered(3, 3) and not covered(0, 0)  # the whole output is shown
    page.click('[data-testid="cx-reveal"]')
    assert covered(3, 3) and covered(1, 2) and not covered(1, 1) and not covered(0, 3)
    go(page, 15)
    assert not covered(3, 3)


def test_the_1d_kernel_moves_under_the_window(page, app_url):
    open_view(page, app_url + "/explorer_1d?stride=2")

    def kernel_left() -> float:
        return page.evaluate("""() => {
          const v = document.querySelector('[data-testid="cx-root"]').__cx;
          return v.kernels[0].dyn.getBoundingClientRect().left -
                 v.inputs[0].dyn.getBoundingClientRect().left;
        }""")

    cs = page.evaluate(f"document.querySelector('{ROOT_SEL}').__cx.cs")
    first = kernel_left()
    go(page, 2)
    assert kernel_left() - first == pytest.approx(2 * 2 * cs, abs=1.5)  # two strides of 2


def test_copy_link_opens_the_same_view(page, app_url):
    open_view(page, app_url + "/explorer_2d?stride=2,1")
    go(page, 6)
    page.click('[data-testid="cx-reveal"]')
    page.click('[data-testid="cx-copy"]')
    link = page.wait_for_function(
        f"() => document.querySelector('{ROOT_SEL}').dataset.link").json_value()
    assert re.search(r"step=7", link) and "reveal=1" in link and "stride=2" in link  # from 1
    open_view(page, link)
    assert step_of(page) == 6 and page.locator('[data-testid="cx-reveal"]').is_checked()


# ------------------------------------------------------------------------------ layout

def test_the_1d_line_legend_covers_no_line(browser, app_url, artifacts):
    """1-D presenter at 1280×720 (the arange input: the output line climbs to the top right
    corner, where the legend was): the legend sits above every point and line of the plot."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    try:
        for address in ("/explorer_1d?presenter=1", "/explorer_1d"):
            open_view(page, app_url + address)
            legend, marks = page.evaluate("""() => {
              const plot = document.querySelector('.cx-line .js-plotly-plot');
              const box = (e) => { const b = e.getBoundingClientRect();
                                   return [b.left, b.top, b.right, b.bottom]; };
              return [box(plot.querySelector('.legend')),
                      [...plot.querySelectorAll('.scatterlayer .trace path, .scatterlayer .point')]
                        .map(box)];
            }""")
            assert len(marks) >= 11, marks  # two lines and the output's points
            for mark in marks:
                overlap = min(legend[2], mark[2]) - max(legend[0], mark[0]) > 0 and \
                    min(legend[3], mark[3]) - max(legend[1], mark[1]) > 0
                assert not overlap, (address, legend, mark)
        shot(page, artifacts, "view-1d-line-legend")
    finally:
        context.close()


def test_a_phone_gets_one_column_with_nothing_overlapping(browser, app_url, artifacts):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        open_view(page, app_url + "/explorer_2d")
        parts = page.evaluate("""() => [...document.querySelectorAll(
            '.cx-bar > *, .cx-panel, .cx-eq')].filter(e => e.offsetParent)
            .map(e => { const b = e.getBoundingClientRect();
                        return [e.className || e.tagName, b.left, b.top, b.right, b.bottom]; })""")
        for i, (a, *ba) in enumerate(parts):
            assert ba[2] <= 390 + 0.5, (a, ba)  # nothing sticks out on the right
            for b, *bb in parts[i + 1:]:
                overlap = min(ba[2], bb[2]) - max(ba[0], bb[0]) > 1 and \
                    min(ba[3], bb[3]) - max(ba[1], bb[1]) > 1
                assert not overlap, (a, ba, b, bb)
        panels = page.evaluate("""() => [...document.querySelectorAll('.cx-panel')]
            .map(e => e.getBoundingClientRect().top)""")
        assert panels == sorted(panels) and len(set(panels)) == len(panels)  # one column
        shot(page, artifacts, "view-phone-390")
    finally:
        context.close()


# ------------------------------------------------------------------------------ export

def test_the_offline_html_export_is_the_same_view(page, tmp_path, artifacts):
    s, comp = computation(2, {"src": "random", "shape": "6,6", "size": "3", "pad": "1",
                              "mode": "circular"})
    text = json.dumps(scenes.build_scene(comp, 0, 1))
    payload = view.payload(text, "export", {"step": 4, "speed": 2, "reveal": False}, False)
    path = tmp_path / "explorer.html"
    path.write_bytes(export.html_bytes(payload, "export test"))
    page.goto(path.as_uri())
    page.wait_for_selector(f"{ROOT_SEL} .cx-eq", timeout=LOAD_TIMEOUT_MS)
    s1 = s.__class__(**{**s.__dict__, "omap": 1})
    assert equation(page) == core_equation(s1, comp, 4)
    page.click('[data-testid="cx-next"]')
    assert equation(page) == core_equation(s1, comp, 5)
    hover(page, "output", 0, 0)
    assert equation(page) == core_equation(s1, comp, 0)
    assert not page.errors, page.errors
    shot(page, artifacts, "view-offline-export")


# ------------------------------------------------------------------------------ predict

def test_predict_then_reveal_hides_the_cell_and_checks_the_guess(page, app_url, artifacts):
    s, comp = computation(2, {"stride": "2,1"})
    open_view(page, app_url + "/explorer_2d?stride=2,1&step=3&predict=1")
    hidden = state(page)
    assert hidden["predict"] == "hidden"
    assert "= ?" in page.inner_text('[data-testid="cx-step"]')
    assert equation(page).startswith("out[0,0,0,2] = ?")  # the arithmetic waits too
    hover(page, "output", 1, 3)  # a later cell: its value stays hidden, its equation too
    assert "predict it first" in page.inner_text(f"{ROOT_SEL} .cx-tip")
    assert equation(page).startswith("out[0,0,1,3] = ?")
    page.mouse.move(2, 2)
    value = float(comp.out[0, 0, 0, 2])  # 10 on the documents' example
    page.fill('[data-testid="cx-guess"]', str(value + 1))
    page.keyboard.press("Enter")
    assert state(page)["predict"] == "wrong"
    verdict = page.inner_text('[data-testid="cx-verdict"]')
    assert f"it is {value:g}" in verdict and "0 of 1 right" in verdict
    assert equation(page) == core_equation(s, comp, 2)  # revealed: the core's arithmetic
    page.click('[data-testid="cx-next"]')
    assert state(page)["predict"] == "hidden"
    page.fill('[data-testid="cx-guess"]', f"{float(comp.out[0, 0, 0, 3]):g}")
    page.click('[data-testid="cx-check"]')
    assert state(page)["predict"] == "right" and state(page)["score"] == "1/2"
    shot(page, artifacts, "view-predict")
    page.wait_for_function("() => new URLSearchParams(location.search).get('predict') === '1'")
