"""The transposed convolution's browser view in Chromium, held to the core.

The browser's stamp rule (``geometry.js``: stampTargets, stampSources) against
``cc.scatter_map`` and ``cc.trace_transposed``; the equation shown in the gather view, and on
hovering an output cell in the scatter view, against ``cc.transposed_equation``; the stamps of
each scatter step against ``cc.trace_scatter``; the output the scatter view builds up, stamp by
stamp, against ``cc.conv_transpose*``.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

import convcore as cc
from app.shared import model, url

from test_browser import assert_no_exception, open_view, shot, view  # isort: skip

pytestmark = pytest.mark.browser

ROOT_SEL = '[data-testid="cx-root"]'


def computation(ndim: int, query: dict):
    s, problems = url.from_query(query, ndim)
    assert not problems
    return s, model.compute_transposed(s)


def address(app_url: str, ndim: int, query: dict) -> str:
    q = {**query, "ndim": str(ndim)} if ndim == 2 else query
    return f"{app_url}/transposed?" + "&".join(f"{k}={v}" for k, v in q.items())


def geometries(rng, n: int):
    found = 0
    while found < n:
        nd = int(rng.integers(1, 3))
        g = dict(in_shape=[int(v) for v in rng.integers(1, 7, nd)],
                 kernel=[int(v) for v in rng.integers(1, 5, nd)],
                 stride=[int(v) for v in rng.integers(1, 4, nd)],
                 dilation=[int(v) for v in rng.integers(1, 3, nd)],
                 padding=[int(v) for v in rng.integers(0, 3, nd)])
        g["output_padding"] = [int(rng.integers(0, max(s, d))) for s, d in
                               zip(g["stride"], g["dilation"])]
        try:
            g["out_shape"] = [cc.transpose_output_size(*a) for a in zip(
                g["in_shape"], g["kernel"], g["stride"], g["padding"], g["output_padding"],
                g["dilation"])]
        except cc.ConvError:
            continue
        found += 1
        yield g


def test_the_browser_stamp_rules_are_the_core_ones(page, app_url):
    page.goto(app_url + "/app/static/view/geometry.js")
    page.evaluate(f"async () => {{ window.geometry = await import("
                  f"'{app_url}/app/static/view/geometry.js'); }}")
    for g in geometries(np.random.default_rng(21), 40):
        args = (tuple(g["in_shape"]), tuple(g["kernel"]), tuple(g["stride"]),
                tuple(g["padding"]), tuple(g["output_padding"]), tuple(g["dilation"]))
        smap = cc.scatter_map(*args)
        got = page.evaluate("""g => {
          const n = g.in_shape.reduce((a, b) => a * b, 1), out = [];
          for (let i = 0; i < n; i++) {
            const cell = window.geometry.unravel(i, g.in_shape);
            out.push(window.geometry.stampTargets(g, cell).map((s) => [s.o, s.inside]));
          }
          return out;
        }""", g)
        np.testing.assert_array_equal(np.array([[o for o, _ in c] for c in got]), smap.coords)
        np.testing.assert_array_equal(np.array([[i for _, i in c] for c in got]), smap.inside)
        x = np.arange(np.prod(g["in_shape"]), dtype=np.float64).reshape(1, 1, *g["in_shape"])
        w = np.ones((1, 1, *g["kernel"]))
        sources = page.evaluate("""g => {
          const n = g.out_shape.reduce((a, b) => a * b, 1), out = [];
          for (let q = 0; q < n; q++) {
            out.push(window.geometry.stampSources(g, window.geometry.unravel(q, g.out_shape))
              .map((s) => [s.i, s.tap]));
          }
          return out;
        }""", g)
        for q, found in enumerate(sources):
            o = np.unravel_index(q, g["out_shape"])
            step = cc.trace_transposed(x, w, out_index=(0, 0, *map(int, o)),
                                       stride=args[2], padding=args[3],
                                       output_padding=args[4], dilation=args[5])
            assert found == [[list(t.input_index), list(t.weight_index[2:])]
                             for t in step.stamps], (g, q)


def assert_scatter_stamps_are_the_cores(page, s, comp, rng, n: int) -> int:
    """The scatter view's stamps (``dataset.stamps``: output cell, product, cropped) at the
    first, the last and ``n`` random steps against ``cc.trace_scatter``; returns the steps."""
    kw = model.transposed_kwargs(s)
    groups = comp.out.shape[1] // comp.weight.shape[1]
    cg = comp.x.shape[1] // groups
    group = s.omap // comp.weight.shape[1]
    total = view(page, "v.steps")
    assert total == cg * int(np.prod(comp.x.shape[2:]))
    for step in sorted({0, total - 1, *rng.integers(0, total, n).tolist()}):
        view(page, f"v.go({step})")
        m, *cell = np.unravel_index(step, (cg, *comp.x.shape[2:]))
        core = cc.trace_scatter(comp.x, comp.weight, comp.bias,
                                in_index=(0, group * cg + int(m), *map(int, cell)), **kw)
        mine = [t for t in core.stamps if t.out_channel == s.omap]
        shown = json.loads(view(page, "v.root.dataset.stamps"))
        assert [o for o, _, _ in shown] == [list(t.output_index) for t in mine], step
        np.testing.assert_allclose([p for _, p, _ in shown], [t.product for t in mine],
                                   rtol=1e-6)
        assert [c for _, _, c in shown] == [t.cropped for t in mine]
    return total


CASES = {
    "1-D": (1, {"src": "random", "shape": "7", "size": "3", "stride": "2", "pad": "1",
                "opad": "1", "bias": "0.5"}),
    "2-D groups=2": (2, {"src": "random", "inmaps": "4", "outmaps": "2", "groups": "2",
                         "shape": "3,4", "size": "3,2", "stride": "2,1", "omap": "1"}),
    "dilation": (2, {"shape": "3", "size": "2", "dilation": "2", "stride": "3", "pad": "1",
                     "opad": "0,2"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_gather_equations_and_scatter_stamps_are_the_core_ones(page, app_url, case):
    ndim, query = CASES[case]
    s, comp = computation(ndim, query)
    rng = np.random.default_rng(len(case))
    open_view(page, address(app_url, ndim, {**query, "tview": "gather"}))
    steps = comp.steps
    for step in sorted({0, steps - 1, *rng.integers(0, steps, 6).tolist()}):
        view(page, f"v.go({step})")
        expected = cc.transposed_equation(model.transposed_step(comp, s, step))
        assert page.inner_text(f"{ROOT_SEL} .cx-eq") == expected, (case, step)
    page.click('[data-testid="cx-mode-scatter"]')
    total = assert_scatter_stamps_are_the_cores(page, s, comp, rng, 6)
    # stamp by stamp, the scatter view builds up the core's output
    page.click('[data-testid="cx-reveal"]')
    view(page, f"v.go({total - 1})")
    partial = json.loads(view(page, "v.root.dataset.partial"))
    np.testing.assert_allclose(np.reshape(partial, comp.out_spatial), comp.out[0, s.omap],
                               rtol=1e-5, atol=1e-5)


def test_hover_in_scatter_shows_an_output_cells_sum_and_the_mode_reaches_the_url(
        page, app_url, artifacts):
    query = {"src": "random", "shape": "4,3", "size": "3", "stride": "2"}
    s, comp = computation(2, query)
    open_view(page, address(app_url, 2, query))
    view(page, "v.go(5)")
    g = view(page, """(() => { const g = v.output; g.dyn.scrollIntoView({block: 'center'});
                              const b = g.dyn.getBoundingClientRect();
                              return [b.left + 4.5 * g.cs, b.top + 3.5 * g.ch]; })()""")
    page.mouse.move(*g)
    page.wait_for_function(f"() => document.querySelector('{ROOT_SEL}').dataset.hover "
                           "=== 'output'")
    o = (3, 4)
    step = cc.trace_transposed(comp.x, comp.weight, out_index=(0, 0, *o),
                               **model.transposed_kwargs(s))
    assert page.inner_text(f"{ROOT_SEL} .cx-eq") == cc.transposed_equation(step)
    lit = json.loads(view(page, "v.root.dataset.lit"))
    assert lit == [list(t.input_index) for t in step.stamps]
    shot(page, artifacts, "transposed-scatter-hover")
    # a click pins the output cell (the scatter view steps over the input: its index is no
    # step): the step stays, and with the pointer gone its sum and sources stay shown
    page.mouse.click(*g)
    page.mouse.move(2, 2)
    assert view(page, "[v.step, v.root.dataset.pinned]") == [5, "output"]
    assert page.inner_text(f"{ROOT_SEL} .cx-eq") == cc.transposed_equation(step)
    assert json.loads(view(page, "v.root.dataset.lit")) == lit
    page.click('[data-testid="cx-mode-gather"]')
    page.wait_for_function("() => new URLSearchParams(location.search).get('tview') === "
                           "'gather'", timeout=10_000)
    assert view(page, "v.steps") == comp.steps
    time.sleep(0.2)
    assert_no_exception(page)


@pytest.mark.parametrize("ndim,query", [
    (1, {}),  # 10 inputs, 11 outputs: the output row is the longer one
    (2, {"stride": "2", "size": "3", "pad": "1"}),  # 9×9 outputs, cropped stamps in the table
])
def test_a_phone_holds_the_whole_output_row_the_table_and_every_tab(browser, app_url,
                                                                    artifacts, ndim, query):
    """At 390 px the output's last cell, the scatter table's columns and the four panel tabs
    are inside the screen (the output row was cut after its 10th cell; a 4th column and the
    4th tab were off the right edge)."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        open_view(page, address(app_url, ndim, query))
        width = page.evaluate("document.documentElement.clientWidth")
        right = view(page, "(() => { const g = v.output, b = g.dyn.getBoundingClientRect(); "
                           "return [b.left + g.cols * g.cs, g.cols]; })()")
        assert right[1] == (11 if ndim == 1 else 9) and right[0] <= width + 0.5, right
        boxes = page.evaluate("""() => [...document.querySelectorAll(
            '[data-testid="stTab"], [data-testid="stTable"] th, [data-testid="stTable"] td,'
            + ' .cx-panel, .cx-plot')].map(e => [e.tagName + ' ' + e.innerText.slice(0, 20),
                                                 e.getBoundingClientRect().right])""")
        tabs = [b for b in boxes if b[0].startswith("DIV ") and b[0][4:].startswith(
            ("Arithmetic", "Backward", "output_padding", "Code"))]
        assert len(tabs) >= 4, boxes
        cells = [b for b in boxes if b[0].startswith(("TH", "TD"))]
        assert len(cells) >= 8, boxes  # the scatter table: 3 columns, a row per stamp
        for name, edge in boxes:
            assert edge <= width + 0.5, (name, edge, width)
        shot(page, artifacts, f"transposed-{ndim}d-phone-390")
    finally:
        context.close()


def test_the_scatter_sums_are_written_inside_their_cells(page, app_url):
    # reveal: the output fills in as the stamps land, each cell with its running sum
    query = {"src": "random", "shape": "4,3", "size": "3", "stride": "2", "reveal": "1"}
    open_view(page, address(app_url, 2, query))
    written = []
    for step in range(view(page, "v.steps")):
        labels, cs = view(page, f"(v.go({step}), [v.sumLabels || [], v.output.cs])")
        assert cs >= 26  # large enough cells to write sums in
        for text, size, width in labels:
            assert size >= 9 and width <= cs - 4, (step, text, size, width, cs)
        written += labels
    # random values: sums of 4 and 5 characters, some of them made smaller to fit
    assert len(written) > 20 and max(len(t) for t, _, _ in written) >= 5
