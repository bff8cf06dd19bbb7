"""The network page in Chromium: the browser's forward pass (network.js) against the core's
(``net.forward`` through convcore) on a test image and on a digit drawn with the mouse; a drawing
updates every map with no websocket message until the user stops, then convcore's prediction on
the page and the URL follow; a click on a convolution's map opens that layer in the explorer;
the page fits a presenter's 1280×720 screen and a 390 px phone.
"""

from __future__ import annotations

import itertools
import math
import re
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from numpy.testing import assert_allclose
from test_browser import (
    LOAD_TIMEOUT_MS,
    assert_no_exception,
    assert_no_js_errors,
    shot,
    wait_until_idle,
)
from test_explorer_view import COUNT_WS_SENDS

from app.network import model
from app.network.data import decode_drawing, digits

pytestmark = pytest.mark.browser

ROOT_SEL = '[data-testid="cx-net-root"]'
ACTS = ("x", "z1", "p1", "z2", "p2", "probs")
# A "4" in pad coordinates (0..1): two strokes.
FOUR = [[(0.6, 0.1), (0.25, 0.6), (0.8, 0.6)], [(0.62, 0.35), (0.62, 0.9)]]
SEVEN = [[(0.25, 0.15), (0.75, 0.15), (0.45, 0.88)]]


def open_network(page, address: str) -> None:
    page.goto(address, wait_until="domcontentloaded")
    wait_until_idle(page)
    page.wait_for_selector(f"{ROOT_SEL} .cx-net-map", timeout=LOAD_TIMEOUT_MS)
    wait_until_idle(page)
    assert_no_exception(page)


def shown(page) -> dict:
    """What the view computed and shows: its activations, digit and prediction."""
    return page.evaluate(f"""() => {{
      const v = document.querySelector('{ROOT_SEL}').__cx;
      const out = {{predicted: v.predicted, code: v.code, mode: v.mode,
                    raw: Array.from(v.raw), status: v.status.textContent,
                    timings: v.timings.slice()}};
      for (const k of {list(ACTS)!r}) out[k] = Array.from(v.acts[k]);
      return out;
    }}""")


def assert_matches_core(view: dict, raw: np.ndarray) -> None:
    acts = model.activations(None, raw)
    for name in ACTS:
        ours = np.asarray(view[name], dtype=np.float32)
        assert_allclose(ours, acts[name].ravel(), rtol=1e-4, atol=2e-5, err_msg=name)
    assert view["predicted"] == int(acts["probs"].argmax())


def draw(page, strokes, steps: int = 8) -> None:
    box = page.get_by_test_id("cx-net-pad").bounding_box()
    for stroke in strokes:
        (x, y) = stroke[0]
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
        page.mouse.down()
        for (a, b), (c, d) in itertools.pairwise(stroke):
            for i in range(1, steps + 1):
                t = i / steps
                page.mouse.move(box["x"] + (a + (c - a) * t) * box["width"],
                                box["y"] + (b + (d - b) * t) * box["height"])
        page.mouse.up()


# ------------------------------------------------------------------------------ tests

def test_the_browsers_forward_pass_is_the_cores_on_a_test_image(page, app_url, artifacts):
    open_network(page, app_url + "/network?image=17")
    view = shown(page)
    raw = digits().raw_test[17]
    assert view["raw"] == raw.ravel().tolist() and view["mode"] == "test"
    assert_matches_core(view, raw)
    label = int(digits().y_test[17])
    assert f"test image 17 (label {label}) → predicted {view['predicted']}" in view["status"]
    # every map of every layer is painted: 8 + 8 + 16 + 16 canvases, and 8 + 16 links
    maps = page.locator(f"{ROOT_SEL} .cx-net-row .cx-net-map:not(.cx-net-kmap)")
    assert maps.count() == 48
    assert page.locator(f"{ROOT_SEL} a.cx-net-link").count() == 24
    assert_no_js_errors(page)
    shot(page, artifacts, "network-test-image")


def test_a_drawn_digit_updates_every_map_then_the_page_and_url(page, app_url, artifacts):
    page.add_init_script(COUNT_WS_SENDS)
    open_network(page, app_url + "/network")
    before = shown(page)
    page.wait_for_timeout(600)
    sent = page.evaluate("window.__wsSent")
    draw(page, FOUR)
    page.wait_for_timeout(150)  # < the 400 ms report delay
    assert page.evaluate("window.__wsSent") == sent  # drawing is the browser's alone
    view = shown(page)
    assert view["mode"] == "draw" and len(view["code"]) == 64
    raw = decode_drawing(view["code"])
    assert raw.ravel().tolist() == view["raw"] and raw.max() >= 12
    for name in ("z1", "p1", "z2", "p2", "probs"):
        assert not np.allclose(view[name], before[name]), name  # the maps moved
    assert_matches_core(view, raw)
    assert view["predicted"] == 4
    assert view["timings"] and all(t["frame"] >= t["compute"] > 0 for t in view["timings"])
    # once the user stops: convcore's own prediction on the page, and the URL
    page.wait_for_function(f"() => new URLSearchParams(location.search).get('draw') === "
                           f"'{view['code']}'", timeout=LOAD_TIMEOUT_MS)
    wait_until_idle(page)
    text = page.get_by_text(re.compile("convcore's forward pass on the drawn digit"))
    assert f"predicts {view['predicted']}" in text.inner_text()
    shot(page, artifacts, "network-drawn-four")
    # Clear, then a 7; the Test image button brings the test image back
    page.locator(f"{ROOT_SEL} button", has_text="Clear").click()
    draw(page, SEVEN)
    page.wait_for_timeout(100)
    view = shown(page)
    assert_matches_core(view, decode_drawing(view["code"]))
    assert view["predicted"] == 7
    page.locator(f"{ROOT_SEL} button", has_text="Test image 0").click()
    page.wait_for_function("() => !new URLSearchParams(location.search).has('draw')",
                           timeout=LOAD_TIMEOUT_MS)
    assert shown(page)["raw"] == digits().raw_test[0].ravel().tolist()
    assert_no_exception(page)
    assert_no_js_errors(page)


def test_clicking_a_feature_map_opens_that_layer_in_the_explorer(page, app_url, artifacts):
    open_network(page, app_url + "/network?image=17")
    link = page.locator(f'{ROOT_SEL} [data-row="z2"] a.cx-net-link[data-map="5"]')
    link.scroll_into_view_if_needed()
    link.click()
    page.wait_for_url(re.compile(r"/explorer_2d\?"), timeout=LOAD_TIMEOUT_MS)
    wait_until_idle(page)
    page.wait_for_selector('[data-testid="cx-root"] .cx-eq', timeout=LOAD_TIMEOUT_MS)
    wait_until_idle(page)
    assert_no_exception(page)
    q = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
    assert {k: q.get(k) for k in ("src", "kernel", "layer", "image", "omap")} == {
        "src": "network", "kernel": "network", "layer": "2", "image": "17", "omap": "5"}
    # the explorer's view shows the core's output: the network's activation before ReLU
    out = page.evaluate("""() => {
      const v = document.querySelector('[data-testid="cx-root"]').__cx;
      return {shape: v.scene.out_shape, z: v.scene.zmax.output, first: v.scene.outputs_first,
              n: v.values.outCount, shown: Array.from(v.values.output.data)};
    }""")
    z2 = model.activations(None, digits().raw_test[17])["z2"][0]
    assert out["shape"] == [8, 8]
    assert out["shown"] == z2[5].ravel().tolist()
    # every output map of the layer is drawn, on one colour scale
    shown_maps = z2[out["first"]:out["first"] + out["n"]]
    assert out["n"] == 16 and math.isclose(out["z"], float(np.abs(shown_maps).max()),
                                           rel_tol=1e-6)
    page.get_by_text(re.compile(r"Layer 2 of the network, shipped weights")).first.wait_for()
    shot(page, artifacts, "network-opened-in-explorer")


def test_presenter_screen_and_phone(browser, app_url, artifacts):
    for size, query, name in (({"width": 1280, "height": 720}, "presenter=1", "presenter"),
                              ({"width": 390, "height": 844}, "", "phone")):
        context = browser.new_context(viewport=size, device_scale_factor=1)
        page = context.new_page()
        try:
            open_network(page, f"{app_url}/network?{query}")
            box = page.evaluate(f"""() => {{
              const r = document.querySelector('{ROOT_SEL}');
              const bottom = (sel) => Math.max(...Array.from(r.querySelectorAll(sel),
                (e) => e.getBoundingClientRect().bottom));
              return {{overflow: r.scrollWidth - r.clientWidth,
                       probs: bottom('.cx-net-prob'),
                       maps: bottom('.cx-net-row .cx-net-map:not(.cx-net-kmap)'),
                       right: Math.max(...Array.from(r.querySelectorAll('.cx-net-map'),
                         (e) => e.getBoundingClientRect().right))}};
            }}""")
            assert box["overflow"] <= 0 and box["right"] <= size["width"], box
            if name == "presenter":  # everything but the conv2 kernels on one screen
                assert box["probs"] <= size["height"] and box["maps"] <= size["height"], box
            shot(page, artifacts, f"network-{name}")
        finally:
            context.close()
