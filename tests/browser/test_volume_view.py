"""The 3-D explorer's browser view (app/static/view/volume.js) in Chromium, compared with the
core: the window's taps against ``cc.window_map`` and the lit depth planes, a hovered voxel's
lit outputs against ``cc.coverage`` (each lit output's window really reads it), a hovered
output's window, the equation against ``cc.equation`` at sampled steps, the 3-D overview's
voxels and window box, and the URL's three values per axis surviving the round trip.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from test_browser import assert_no_js_errors, open_view, shot

import convcore as cc
from app.shared import model, url

pytestmark = pytest.mark.browser

ROOT_SEL = '[data-testid="cx-root"]'
QUERY = {"src": "random", "shape": "4,5,6", "size": "3,2,3", "stride": "1,2,2", "pad": "1",
         "dilation": "1,1,2", "bias": "0.5"}


def address(app_url: str, query: dict) -> str:
    return f"{app_url}/explorer_3d?" + "&".join(f"{k}={v}" for k, v in query.items())


def state(page) -> dict:
    return page.evaluate(f"() => ({{...document.querySelector('{ROOT_SEL}').dataset}})")


def go(page, step: int) -> None:
    page.evaluate(f"() => document.querySelector('{ROOT_SEL}').__cx.go({step})")


def equation(page) -> str:
    return page.inner_text(f"{ROOT_SEL} .cx-eq")


def computation(query: dict):
    s, problems = url.from_query(query, 3)
    assert not problems
    return s, model.compute(s)


def hover(page, stack: str, q) -> dict:
    """Move the mouse onto display cell q = [d, r, c] of a slice stack."""
    x, y = page.evaluate(f"""q => document.querySelector('{ROOT_SEL}').__cx.{stack}.centre(q)""",
                         list(q))
    page.mouse.move(x, y)
    page.wait_for_function(f"() => document.querySelector('{ROOT_SEL}').dataset.hover === "
                           f"'{stack}'", timeout=5000)
    return state(page)


def test_taps_planes_and_equation_are_the_cores(page, app_url, artifacts):
    s, comp = computation(QUERY)
    open_view(page, address(app_url, QUERY))
    assert state(page)["layout"] == "slices"
    wmap = cc.window_map(comp.x.shape[2:], comp.weight.shape[2:], s.stride, s.padding,
                         s.dilation)
    steps = comp.steps
    assert page.evaluate(f"() => document.querySelector('{ROOT_SEL}').__cx.steps") == steps
    sample = sorted({0, 1, steps // 2, steps - 1,
                     *np.random.default_rng(3).integers(0, steps, 8).tolist()})
    for step in sample:
        go(page, step)
        got = state(page)
        assert json.loads(got["taps"]) == wmap.coords[step].tolist(), step
        assert json.loads(got["planes"]) == sorted({int(p[0]) for p in wmap.coords[step]})
        assert equation(page) == cc.equation(model.step_trace(comp, s, step)), step
    # the depth slices: one per padded depth, the lit ones carry the class
    padded = comp.padded.values.shape[2:]
    assert page.locator('[data-testid="cx-vol-input"] canvas').count() == padded[0]
    lit = page.locator('[data-testid="cx-vol-input"] .cx-vol-lit').count()
    assert lit == len(json.loads(state(page)["planes"]))
    shot(page, artifacts, "volume-view")
    assert_no_js_errors(page)


def test_voxel_hover_lights_the_outputs_the_core_counts(page, app_url):
    s, comp = computation(QUERY)
    open_view(page, address(app_url, QUERY))
    wmap = cc.window_map(comp.x.shape[2:], comp.weight.shape[2:], s.stride, s.padding,
                         s.dilation)
    cov = cc.coverage(comp.x.shape[2:], comp.weight.shape[2:], s.stride, s.padding,
                      s.dilation)
    lo = [p[0] for p in comp.padded.pads]
    coords = wmap.coords.tolist()
    for u in ((0, 0, 0), (1, 2, 3), (3, 4, 5), (2, 0, 4), (0, 3, 1)):
        p = [a + b for a, b in zip(u, lo)]
        got = hover(page, "input", p)
        lit = [int(v) for v in got["lit"].split(",") if v]
        assert len(lit) == cov.counts[u], u
        for k in lit:
            assert p in coords[k], (u, k)
    # an output voxel: its window's taps and its equation
    out_shape = wmap.out_spatial
    for o in ((0, 0, 0), (1, 1, 1), tuple(n - 1 for n in out_shape)):
        got = hover(page, "output", o)
        k = int(np.ravel_multi_index(o, out_shape))
        assert json.loads(got["taps"]) == coords[k]
        assert equation(page) == cc.equation(model.step_trace(comp, s, k))
    assert_no_js_errors(page)


def test_the_overview_draws_the_voxels_and_the_window_box(page, app_url):
    query = {"src": "sample", "sample": "moving bar (clip)", "kernel": "preset",
             "preset": "temporal difference", "stride": "1,2,2"}
    s, comp = computation(query)
    open_view(page, address(app_url, query))
    got = page.evaluate(f"""() => {{
      const v = document.querySelector('{ROOT_SEL}').__cx;
      const d = v.overview.data;
      return {{voxels: d[0].x.length, type: d[0].type, box: d[1].x.filter(x => x !== null).length,
               taps: d[2].x.length}};
    }}""")
    assert got["type"] == "scatter3d"
    # 8×10×12 = 960 voxels: under the overview's budget of 1,000, every one is drawn
    assert got["voxels"] == comp.x[0, 0].size
    assert got["box"] == 24  # 12 edges
    assert got["taps"] == 27  # a 3³ window inside the clip at step 0 (no padding)
    go(page, 5)  # the overview follows once the steps pause (150 ms)
    page.wait_for_function(f"() => document.querySelector('{ROOT_SEL}').dataset.overviewStep "
                           "=== '5'", timeout=5000)
    taps5 = page.evaluate(f"() => document.querySelector('{ROOT_SEL}').__cx.overview.data[2]")
    wmap = cc.window_map(comp.x.shape[2:], comp.weight.shape[2:], s.stride, s.padding,
                         s.dilation)
    H = comp.x.shape[3]
    want = sorted((int(c), int(d), H - 1 - int(r)) for d, r, c in wmap.coords[5])
    assert sorted(zip(taps5["x"], taps5["y"], taps5["z"])) == want
    assert_no_js_errors(page)


def test_three_values_per_axis_survive_the_url_round_trip(page, app_url):
    open_view(page, address(app_url, QUERY))
    go(page, 7)
    link = page.evaluate(f"() => document.querySelector('{ROOT_SEL}').__cx.link()")
    q = {k: v[0] for k, v in parse_qs(urlparse(link).query).items()}
    assert q["stride"] == "1,2,2" and q["size"] == "3,2,3" and q["shape"] == "4,5,6"
    assert q["step"] == "8"
    s, problems = url.from_query(q, 3)
    assert not problems and s.step == 7 and s.stride == (1, 2, 2)
    # the link opens the same view at the same step
    open_view(page, link)
    assert state(page)["step"] == "7"
    assert_no_js_errors(page)


def test_predict_mode_hides_the_voxel_until_the_guess_is_checked(page, app_url):
    s, comp = computation(QUERY)
    open_view(page, address(app_url, {**QUERY, "predict": "1", "step": "3"}))
    assert state(page)["predict"] == "hidden"
    assert equation(page).startswith("out[0,0,0,1,0] = ?")
    value = float(comp.out[(0, 0, *np.unravel_index(2, comp.out.shape[2:]))])
    page.fill('[data-testid="cx-guess"]', cc.format_number(value).replace("\u2212", "-"))
    page.click('[data-testid="cx-check"]')
    assert state(page)["predict"] == "right" and state(page)["score"] == "1/1"
    assert equation(page) == cc.equation(model.step_trace(comp, s, 2))
    go(page, 3)
    page.fill('[data-testid="cx-guess"]', "12345")
    page.click('[data-testid="cx-check"]')
    assert state(page)["predict"] == "wrong" and state(page)["score"] == "1/2"
    assert_no_js_errors(page)


def test_the_views_layer_controls_change_the_3d_layer_through_the_scene_api(page, app_url):
    open_view(page, address(app_url, QUERY))
    names = page.locator('[data-testid="cx-controls"] .cx-ctl-stride').inner_text()
    assert all(axis in names for axis in ("D", "H", "W"))
    loads = page.evaluate(f"() => document.querySelector('{ROOT_SEL}').__cx.loads")
    page.evaluate(f"() => document.querySelector('{ROOT_SEL}').__cx.request({{stride: '2,1,1'}})")
    page.wait_for_function(f"() => document.querySelector('{ROOT_SEL}').__cx.loads > {loads}",
                           timeout=30_000)
    s, comp = computation({**QUERY, "stride": "2,1,1"})
    wmap = cc.window_map(comp.x.shape[2:], comp.weight.shape[2:], s.stride, s.padding,
                         s.dilation)
    assert page.evaluate(f"() => document.querySelector('{ROOT_SEL}').__cx.steps") == comp.steps
    for step in (0, comp.steps // 2, comp.steps - 1):
        go(page, step)
        assert json.loads(state(page)["taps"]) == wmap.coords[step].tolist()
        assert equation(page) == cc.equation(model.step_trace(comp, s, step))
    # the page follows: its URL holds the new stride once the view reported
    page.wait_for_function("() => new URL(location.href).searchParams.get('stride') === "
                           "'2,1,1'", timeout=30_000)
    assert_no_js_errors(page)


def test_the_offline_html_export_is_the_same_3d_view(page, tmp_path):
    from app.shared import export, view
    from app.shared import scene as scenes

    s, comp = computation({**QUERY, "inmaps": "2", "outmaps": "2", "groups": "1"})
    text = json.dumps(scenes.build_scene(comp, 0, 1))
    payload = view.payload(text, "export", {"step": 4, "speed": 2, "reveal": False}, False)
    path = tmp_path / "explorer_3d.html"
    path.write_bytes(export.html_bytes(payload, "export test", 3))
    page.goto(path.as_uri())
    page.wait_for_selector(f"{ROOT_SEL} .cx-eq", timeout=45_000)
    s1 = s.__class__(**{**s.__dict__, "omap": 1})
    assert equation(page) == cc.equation(model.step_trace(comp, s1, 4))
    go(page, 9)
    assert equation(page) == cc.equation(model.step_trace(comp, s1, 9))
    # both input maps are in the equation; the slices show one at a time (a selector)
    assert "x[0,0," in equation(page) and "x[0,1," in equation(page)
    assert page.locator(f'{ROOT_SEL} select[aria-label="input map shown"]').count() == 1
    assert not page.errors, page.errors
