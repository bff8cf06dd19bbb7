"""The transposed page in 3-D (app/static/view/volume_transposed.js) in Chromium, held to the
core: the gather view's window over the zero-inserted input against ``cc.window_map`` on the
gather form and its equation against ``cc.transposed_equation``; each scatter step's stamps
against ``cc.trace_scatter``; a hovered output voxel's lit input voxels against
``cc.trace_transposed``; the output the scatter view builds up, stamp by stamp, against
``cc.conv_transpose3d``; the URL round trip (``?ndim=3&tview=gather``) and a layer change in the
view's own controls.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

import convcore as cc
from app.shared import model, url

from test_browser import assert_no_exception, open_view, shot, view  # isort: skip
from test_transposed_view import assert_scatter_stamps_are_the_cores  # isort: skip

pytestmark = pytest.mark.browser

ROOT_SEL = '[data-testid="cx-root"]'
QUERY = {"src": "random", "inmaps": "2", "outmaps": "2", "shape": "2,3,3", "size": "2,3,2",
         "stride": "2,1,2", "pad": "0,1,0", "opad": "1,0,0", "bias": "0.5", "omap": "1"}


def address(app_url: str, query: dict) -> str:
    q = {**query, "ndim": "3"}
    return f"{app_url}/transposed?" + "&".join(f"{k}={v}" for k, v in q.items())


def computation(query: dict):
    s, problems = url.from_query(query, 3)
    assert not problems
    return s, model.compute_transposed(s)


def state(page) -> dict:
    return view(page, "({...v.root.dataset})")


def test_gather_and_scatter_are_the_cores(page, app_url, artifacts):
    s, comp = computation(QUERY)
    kw = model.transposed_kwargs(s)
    rng = np.random.default_rng(3)
    open_view(page, address(app_url, {**QUERY, "tview": "gather"}))
    assert state(page)["layout"] == "slices" and state(page)["mode"] == "gather"
    # gather: a plain stride-1 window over the zero-inserted, padded input
    canvas = comp.gather.values.shape[2:]
    assert page.locator('[data-testid="cx-vol-input"] canvas').count() == canvas[0]
    wmap = cc.window_map(canvas, comp.weight.shape[2:], 1, 0, s.dilation)
    assert view(page, "v.steps") == comp.steps == wmap.steps
    for step in sorted({0, comp.steps - 1, *rng.integers(0, comp.steps, 5).tolist()}):
        view(page, f"v.go({step})")
        assert json.loads(state(page)["taps"]) == wmap.coords[step].tolist(), step
        expected = cc.transposed_equation(model.transposed_step(comp, s, step))
        assert page.inner_text(f"{ROOT_SEL} .cx-eq") == expected, step
    shot(page, artifacts, "volume-transposed-gather")
    # scatter: every input cell of the group, its stamps on the shown output map
    page.click('[data-testid="cx-mode-scatter"]')
    assert state(page)["mode"] == "scatter"
    total = assert_scatter_stamps_are_the_cores(page, s, comp, rng, 5)
    cg = comp.x.shape[1] // (comp.out.shape[1] // comp.weight.shape[1])
    group = s.omap // comp.weight.shape[1]
    # hover an output voxel: the input voxels that stamp it, and its equation
    out_shape = comp.out.shape[2:]
    for o in ([0, 1, 1], [int(v) - 1 for v in out_shape]):
        x, y = view(page, f"v.output.centre({json.dumps(o)})")
        page.mouse.move(x, y)
        page.wait_for_function(f"() => document.querySelector('{ROOT_SEL}').dataset.hover "
                               "=== 'output'", timeout=5000)
        trace = cc.trace_transposed(comp.x, comp.weight, comp.bias,
                                    out_index=(0, s.omap, *o), **kw)
        lit = json.loads(state(page)["lit"])
        # every input map of the group at the same cells: the view lists the cells once
        want = [list(t.input_index) for t in trace.stamps if t.in_channel == group * cg]
        assert lit == want, o
        assert page.inner_text(f"{ROOT_SEL} .cx-eq") == cc.transposed_equation(trace)
    page.mouse.move(1, 1)
    # reveal: stamp by stamp, the scatter view builds up the core's output
    view(page, f"(v.reveal = true, v.go({total - 1}, {{force: true}}), 0)")
    partial = json.loads(state(page)["partial"])
    np.testing.assert_allclose(np.reshape(partial, out_shape), comp.out[0, s.omap],
                               rtol=1e-5, atol=1e-5)
    # stamps per output cell: convcore's counts, as slices beside the output
    counts = view(page, "Array.from(v.raw.overlap.data)")
    np.testing.assert_array_equal(np.reshape(counts, out_shape), comp.overlap.counts)
    assert page.locator('[data-testid="cx-vol-overlap"] canvas').count() == out_shape[0]
    shot(page, artifacts, "volume-transposed-scatter")
    assert_no_exception(page)


def test_the_link_round_trips_and_the_views_controls_change_the_layer(page, app_url):
    open_view(page, address(app_url, {**QUERY, "tview": "gather", "step": "5"}))
    assert view(page, "v.step") == 4
    link = view(page, "v.link()")
    q = {k: v[0] for k, v in parse_qs(urlparse(link).query).items()}
    assert q["ndim"] == "3" and q["tview"] == "gather" and q["step"] == "5"
    assert q["stride"] == "2,1,2" and q["size"] == "2,3,2"
    open_view(page, link)
    assert view(page, "[v.viewMode, v.step]") == ["gather", 4]
    # a layer change in the view's own controls: the scene API's answer, the core's numbers
    before = view(page, "v.loads")
    page.locator('[data-testid="cx-ctl-stride-1"]').press("ArrowRight")  # stride H 1 -> 2
    page.wait_for_function(f"() => document.querySelector('{ROOT_SEL}').__cx.loads > {before}",
                           timeout=20_000)
    assert view(page, "v.tscene.stride") == [2, 2, 2]
    assert view(page, "v.viewMode") == "gather"
    s, problems = url.from_query(view(page, "v.payload.query"), 3)
    assert not problems and s.stride == (2, 2, 2)
    comp = model.compute_transposed(s)
    step = comp.steps // 2
    view(page, f"v.go({step})")
    assert page.inner_text(f"{ROOT_SEL} .cx-eq") == cc.transposed_equation(
        model.transposed_step(comp, s, step))
    assert_no_exception(page)


def test_the_keyboard_cursor_walks_the_scatter_views_voxels_with_the_core(page, app_url):
    from test_a11y import cursor_grid_kind, cursor_to, json_cursor, live, tab_to_grids, tabs_to

    s, comp = computation(QUERY)
    kw = model.transposed_kwargs(s)
    cg = comp.x.shape[1] // (comp.out.shape[1] // comp.weight.shape[1])
    group = s.omap // comp.weight.shape[1]
    out_d = comp.out.shape[2]
    open_view(page, address(app_url, {**QUERY, "step": "5"}))  # map 0, cell (0, 1, 1)
    assert tabs_to(page, ROOT_SEL) is not None
    tab_to_grids(page)
    # the cursor starts on the step's input voxel, in its depth slice (after the output's)
    assert cursor_grid_kind(page) == "input" and json_cursor(page) == [out_d + 0, 1, 1]
    got = live(page)
    stamps = [t for t in cc.trace_scatter(comp.x, comp.weight, comp.bias,
                                          in_index=(0, group * cg, 0, 1, 1), **kw).stamps
              if t.out_channel == s.omap and not t.cropped]
    n = len(stamps)
    assert got["hover"] == "input" and f"stamps {n} output cell" in got["tip"], got
    assert json.loads(got["lit"]) == [list(t.output_index) for t in stamps]
    # Enter on another input voxel steps there
    cursor_to(page, 2, 0)
    page.keyboard.press("Enter")
    assert live(page)["step"] == str(int(np.ravel_multi_index((0, 0, 2, 0),
                                                               (cg, *comp.x.shape[2:]))))
    # Shift+G back to the output's slices: a voxel lights the input voxels that stamp it
    while json_cursor(page)[0] != out_d - 1:
        page.keyboard.press("Shift+G")
    assert cursor_grid_kind(page) == "output"
    cursor_to(page, 1, 2)
    got = live(page)
    trace = cc.trace_transposed(comp.x, comp.weight, comp.bias,
                                out_index=(0, s.omap, out_d - 1, 1, 2), **kw)
    assert got["hover"] == "output"
    assert json.loads(got["lit"]) == [list(t.input_index) for t in trace.stamps
                                      if t.in_channel == group * cg]
    assert page.inner_text(f"{ROOT_SEL} .cx-eq") == cc.transposed_equation(trace)
    assert_no_exception(page)
