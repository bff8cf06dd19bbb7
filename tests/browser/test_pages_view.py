"""The receptive-field view and the shape drill in Chromium.

- the browser's receptive field (``stack.js``: the explorer's window rule applied layer after
  layer) against ``cc.cell_receptive_field`` — range and path counts — for every output cell of
  small stacks and sampled cells of larger ones, 1-D and 2-D, with strides, dilations and
  uneven padding, and for cells of the levels in between (against the stack cut there); the
  other way round, the cells a cell reaches on the levels above it (``reachOf``), against the
  same function read per reached cell;
- the levels are drawn in order (input, layer 1, 2, 3) and hovering an input cell lights the
  output cells it reaches, with the core's path counts;
- clicking an output cell on the page lights its field with the core's path counts; hovering
  sends no websocket message; the pinned cell reaches the URL once the user stops; a
  presenter's 1280×720 screen holds the input, the output and the caption;
- the drill answered right and wrong through the real form.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_browser import (
    LOAD_TIMEOUT_MS,
    assert_no_exception,
    assert_no_js_errors,
    shot,
    wait_until_idle,
)
from test_explorer_view import COUNT_WS_SENDS

import convcore as cc
from app.drill import questions as drill
from app.shared import scene as scenes

pytestmark = pytest.mark.browser

ROOT_SEL = '[data-testid="cx-rf-root"]'


def open_view(page, address: str) -> None:
    page.goto(address, wait_until="domcontentloaded")
    wait_until_idle(page)
    page.wait_for_selector(f"{ROOT_SEL} .cx-rf-info", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_function(f"() => window.Plotly && document.querySelector("
                           f"'{ROOT_SEL} .cx-plot .main-svg')")
    wait_until_idle(page)
    assert_no_exception(page)


def shown_field(page) -> dict:
    return page.evaluate(f"""() => {{
      const v = document.querySelector('{ROOT_SEL}').__cx;
      return {{level: v.field.level, index: v.field.index, first: v.field.first,
               last: v.field.last, input: Array.from(v.field.input),
               dataset: {{...v.root.dataset}}}};
    }}""")


def cell_center(page, level: int, index) -> tuple[float, float]:
    return tuple(page.evaluate("""([level, index]) => {
      const v = document.querySelector('[data-testid="cx-rf-root"]').__cx;
      const g = v.grids[level];
      g.dyn.scrollIntoView({block: 'center'});
      const [r, c] = g.spot(index);
      const b = g.dyn.getBoundingClientRect();
      return [b.left + (c + 0.5) * g.cs, b.top + (r + 0.5) * g.ch];
    }""", [level, list(index)]))


def layers_of(spec: list) -> list[dict]:
    return [dict(kernel_size=k, stride=s, dilation=d, padding=p) for k, s, d, p in spec]


# ------------------------------------------------------------------------------ the rule

def random_stacks(rng, n: int):
    found = 0
    while found < n:
        nd = int(rng.integers(1, 3))
        layers = []
        for _ in range(int(rng.integers(1, 5))):
            pads = tuple((int(a), int(b)) for a, b in rng.integers(0, 3, (nd, 2)))
            layers.append(dict(kernel_size=tuple(int(v) for v in rng.integers(1, 5, nd)),
                               stride=tuple(int(v) for v in rng.integers(1, 4, nd)),
                               dilation=tuple(int(v) for v in rng.integers(1, 4, nd)),
                               padding=pads))
        in_spatial = tuple(int(v) for v in rng.integers(4, 40 if nd == 1 else 14, nd))
        try:
            rf = cc.receptive_field(layers, in_spatial=in_spatial)
        except cc.ConvError:
            continue
        found += 1
        yield layers, in_spatial, rf


def test_the_browser_field_and_path_counts_are_the_core_cell_receptive_field(page, app_url):
    page.goto(app_url + "/app/static/view/stack.js")
    page.evaluate(f"""async () => {{
      window.stack = await import('{app_url}/app/static/view/stack.js');
    }}""")
    rng = np.random.default_rng(21)
    stacks = list(random_stacks(rng, 50))
    # the presets' kind of stacks, bigger: every 3rd cell of a WaveNet stack, a strided stem
    stacks.append((layers_of([(2, 1, 2**i, 0) for i in range(6)]), (90,), None))
    stacks.append((layers_of([(7, 2, 1, 3), (3, 2, 1, 1), (3, 1, 1, 1)]), (40, 36), None))
    checked = 0
    for layers, in_spatial, rf in stacks:
        rf = rf or cc.receptive_field(layers, in_spatial=in_spatial)
        sc = scenes.build_stack_scene(rf)
        cases = []  # (level, index): every output cell when few, else a sample; some inner
        for level in range(1, len(layers) + 1):
            shape = rf.layers[level - 1].out_spatial
            cells = list(np.ndindex(*shape))
            if level < len(layers) or len(cells) > 60:
                picks = rng.choice(len(cells), min(len(cells), 8 if level < len(layers)
                                                   else 60), replace=False)
                cells = [cells[i] for i in sorted(picks)]
            cases += [(level, [int(v) for v in c]) for c in cells]
        got = page.evaluate("""([sc, cases]) => cases.map(([level, index]) => {
            const f = window.stack.fieldOf(sc, level, index);
            return [f.first, f.last, Array.from(f.input)];
        })""", [sc, cases])
        for (level, index), (first, last, paths) in zip(cases, got):
            cf = cc.cell_receptive_field(layers[:level], in_spatial, tuple(index))
            where = (layers, in_spatial, level, index)
            assert (tuple(first), tuple(last)) == (cf.first, cf.last), where
            np.testing.assert_array_equal(paths, cf.paths.ravel(), err_msg=str(where))
            checked += 1
    assert checked > 1000, checked


def test_the_cells_a_cell_reaches_are_the_core_fields_read_the_other_way(page, app_url):
    """reachOf(scene, h, j) on level L counts, for each cell o of L, the paths from cell j of
    level h to o: ``cc.cell_receptive_field(layers[h:L], shape of level h, o).paths[j]``."""
    page.goto(app_url + "/app/static/view/stack.js")
    page.evaluate(f"""async () => {{
      window.stack = await import('{app_url}/app/static/view/stack.js');
    }}""")
    rng = np.random.default_rng(7)
    checked = 0
    for layers, in_spatial, rf in random_stacks(rng, 40):
        sc = scenes.build_stack_scene(rf)
        shapes = [tuple(in_spatial)] + [tuple(L.out_spatial) for L in rf.layers]
        top = len(layers)
        level = int(rng.integers(0, top))
        cells = list(np.ndindex(*shapes[level]))
        picks = [cells[i] for i in rng.choice(len(cells), min(4, len(cells)), replace=False)]
        got = page.evaluate("""([sc, level, picks, top]) => picks.map((j) => {
            const r = window.stack.reachOf(sc, level, j);
            const out = [];
            for (let l = level + 1; l <= top; l++) {
              out.push(Array.from(window.stack.levelCounts(r.axes, l)));
            }
            return [out, Array.from(r.output)];
        })""", [sc, level, [[int(v) for v in j] for j in picks], top])
        for above in range(level + 1, top + 1):
            # paths[o, j] from every cell j of `level` to every cell o of `above`
            paths = np.stack([cc.cell_receptive_field(layers[level:above], shapes[level],
                                                      o).paths.ravel()
                              for o in np.ndindex(*shapes[above])])
            for j, (per_level, output) in zip(picks, got):
                expected = paths[:, np.ravel_multi_index(j, shapes[level])]
                where = (layers, in_spatial, level, j, above)
                np.testing.assert_array_equal(per_level[above - level - 1], expected,
                                              err_msg=str(where))
                if above == top:
                    np.testing.assert_array_equal(output, expected, err_msg=str(where))
                checked += 1
    assert checked > 150, checked


# ------------------------------------------------------------------------------ the page

def test_levels_in_order_and_an_input_cell_lights_the_outputs_it_reaches(page, app_url,
                                                                         artifacts):
    layers = layers_of([(3, 2, 1, 1), (3, 1, 2, 0), (2, 1, 1, 0)])
    open_view(page, app_url + "/receptive?in=15,13&layers=k3s2p1,k3d2,k2")
    # the levels read input, layer 1, layer 2, layer 3 (left to right, then down)
    order = page.evaluate(f"""() => [...document.querySelectorAll(
        '{ROOT_SEL} .cx-rf-level')].map(e => {{ const b = e.getBoundingClientRect();
                                               return [Number(e.dataset.level), b.top, b.left];
                                             }})""")
    assert [level for level, _, _ in order] == [0, 1, 2, 3]
    reading = sorted(order, key=lambda o: (round(o[1]), o[2]))
    assert [level for level, _, _ in reading] == [0, 1, 2, 3], order
    labels = page.locator(f"{ROOT_SEL} .cx-rf-level .cx-label").all_inner_texts()
    assert [t.split(" (")[0].split(":")[0] for t in labels] == ["input", "layer 1", "layer 2",
                                                                "layer 3"]
    # hovering input cell (1, 1): the output cells it reaches light up, with the core's counts
    out = cc.receptive_field(layers, in_spatial=(15, 13)).out_spatial
    expected = np.array([cc.cell_receptive_field(layers, (15, 13), o).paths[1, 1]
                         for o in np.ndindex(*out)])
    assert expected.sum() > 0 and (expected == 0).sum() > 0  # some reached, some not
    page.mouse.move(*cell_center(page, 0, (1, 1)))
    page.wait_for_function(f"() => document.querySelector('{ROOT_SEL}').dataset.cell === "
                           "'[1,1]'", timeout=5000)
    reach = page.evaluate(f"() => Array.from(document.querySelector('{ROOT_SEL}')"
                          ".__cx.reach.output)")
    assert reach == expected.tolist()
    lit = page.evaluate("""([cells]) => {
      const v = document.querySelector('[data-testid="cx-rf-root"]').__cx;
      const g = v.grids[3], dpr = window.devicePixelRatio || 1;
      return cells.map(([r, c]) => g.ctx.getImageData(Math.round((c + 0.5) * g.cs * dpr),
        Math.round((r + 0.5) * g.ch * dpr), 1, 1).data[3] > 0);
    }""", [[[int(r), int(c)] for r, c in np.ndindex(*out)]])
    assert lit == (expected > 0).tolist()
    info = page.inner_text(f"{ROOT_SEL} .cx-rf-info")
    n = int((expected > 0).sum())
    assert info.startswith(f"input cell (1,1) reaches {n} output cell") and \
        f"through {int(expected.sum())} path" in info, info
    assert page.inner_text(f"{ROOT_SEL} .cx-tip").startswith(
        f"input (1,1): reaches {n} output cell")
    assert_no_js_errors(page)
    shot(page, artifacts, "receptive-input-cell-reach")


def test_clicking_an_output_cell_lights_its_field_without_a_round_trip(page, app_url, artifacts):
    page.add_init_script(COUNT_WS_SENDS)
    layers = layers_of([(3, 2, 1, 1), (3, 1, 2, 0), (2, 1, 1, 0)])
    open_view(page, app_url + "/receptive?in=15,13&layers=k3s2p1,k3d2,k2")
    rf = cc.receptive_field(layers, in_spatial=(15, 13))
    out = rf.out_spatial
    assert out == (3, 2)
    # on load: the centre cell of the output, as the core says
    centre = tuple((n - 1) // 2 for n in out)
    f = shown_field(page)
    cf = cc.cell_receptive_field(layers, (15, 13), centre)
    assert f["input"] == cf.paths.ravel().tolist() and f["level"] == 3
    page.wait_for_timeout(600)
    sent = page.evaluate("window.__wsSent")
    # hovering output cells and cells in between: the browser answers, the server hears nothing
    for level, index in ((3, (0, 0)), (3, (2, 1)), (1, (4, 3)), (2, (1, 2)), (0, (7, 7))):
        page.mouse.move(*cell_center(page, level, index))
        page.wait_for_function(f"() => document.querySelector('{ROOT_SEL}').dataset.cell === "
                               f"'{json.dumps(list(index), separators=(',', ':'))}'",
                               timeout=5000)
        f = shown_field(page)
        assert f["level"] == level and f["dataset"]["hover"] == "1"
        if level:
            cf = cc.cell_receptive_field(layers[:level], (15, 13), index)
            assert f["input"] == cf.paths.ravel().tolist(), (level, index)
            assert (tuple(f["first"]), tuple(f["last"])) == (cf.first, cf.last)
    assert page.evaluate("window.__wsSent") == sent
    # a click pins an output cell: its field, lit on the canvas where paths reach
    page.mouse.click(*cell_center(page, 3, (2, 0)))
    page.mouse.move(2, 2)
    f = shown_field(page)
    cf = cc.cell_receptive_field(layers, (15, 13), (2, 0))
    assert f["dataset"]["pinned"] == "[2,0]" and f["dataset"]["hover"] == ""
    assert f["input"] == cf.paths.ravel().tolist()
    # per axis u = −1, j = 2, r = 3 + 2·2·2 + 1·1·2 = 13: rows 3–15, cols −1–11
    assert (tuple(f["first"]), tuple(f["last"])) == (cf.first, cf.last) == ((3, -1), (15, 11))
    lit = page.evaluate("""([cells]) => {
      const v = document.querySelector('[data-testid="cx-rf-root"]').__cx;
      const g = v.grids[0], dpr = window.devicePixelRatio || 1;
      return cells.map(([r, c]) => g.ctx.getImageData(Math.round((c + 0.5) * g.cs * dpr),
        Math.round((r + 0.5) * g.ch * dpr), 1, 1).data[3] > 0);
    }""", [[[int(r), int(c)] for r, c in np.ndindex(15, 13)]])
    assert lit == cf.reached.ravel().tolist()
    info = page.inner_text(f"{ROOT_SEL} .cx-rf-info")
    assert info.startswith("layer 3 cell (2,0) sees input rows 3–15 × cols \u22121–11")
    assert f"{int(cf.reached.sum())} input cells reach it through {int(cf.paths.sum())} paths" \
        in info
    # once the user stops, one report: the URL and the server's caption follow
    page.wait_for_function("() => new URLSearchParams(location.search).get('cell') === '2,0'",
                           timeout=10_000)
    wait_until_idle(page)
    assert page.evaluate("window.__wsSent") > sent
    assert page.get_by_text("Pinned output cell (2, 0)").count() == 1
    # arrows move the pinned cell
    page.locator(ROOT_SEL).focus()
    page.keyboard.press("ArrowUp")
    assert shown_field(page)["dataset"]["pinned"] == "[1,0]"
    assert_no_js_errors(page)
    shot(page, artifacts, "receptive-2d-pinned")


def test_the_dilated_1d_preset_and_a_presenter_screen(browser, app_url, artifacts):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    try:
        open_view(page, app_url + "/receptive?nd=1&in=40&layers=k2,k2d2,k2d4,k2d8,k2d16"
                  "&presenter=1")
        page.evaluate("window.scrollTo(0, 0)")
        f = shown_field(page)
        assert f["index"] == [4]  # the centre of 9 outputs
        assert f["input"] == [1.0 if 4 <= i < 36 else 0.0 for i in range(40)]  # 2^5 cells
        for sel in (f"{ROOT_SEL} .cx-rf-level[data-level='0']",
                    f"{ROOT_SEL} .cx-rf-level[data-level='5']", f"{ROOT_SEL} .cx-rf-info"):
            b = page.locator(sel).bounding_box()
            assert b and b["y"] >= 0 and b["y"] + b["height"] <= 720, (sel, b)
            assert b["x"] >= 0 and b["x"] + b["width"] <= 1280, (sel, b)
        shot(page, artifacts, "receptive-1d-presenter-1280x720")
        open_view(page, app_url + "/receptive?in=32&layers=k7s2p3,k3s2p1,k3,k3&presenter=1")
        page.evaluate("window.scrollTo(0, 0)")
        for sel in (f"{ROOT_SEL} .cx-rf-level[data-level='0']",
                    f"{ROOT_SEL} .cx-rf-level[data-level='4']", f"{ROOT_SEL} .cx-rf-info"):
            b = page.locator(sel).bounding_box()
            assert b and b["y"] >= 0 and b["y"] + b["height"] <= 720, (sel, b)
        shot(page, artifacts, "receptive-2d-presenter-1280x720")
        assert not page.locator('[data-testid="stException"]').count()
    finally:
        context.close()


# ------------------------------------------------------------------------------ the drill

def test_the_drill_answered_right_and_wrong_through_the_form(page, app_url, artifacts):
    q0, q1 = drill.sequence(77, 2)
    page.goto(app_url + "/drill?seed=77&n=2", wait_until="domcontentloaded")
    wait_until_idle(page)
    code = page.locator('[data-testid="stCode"]').first
    assert code.inner_text().strip() == q0.code()
    box = page.get_by_label("Your prediction of layer(x).shape")
    box.fill(", ".join(str(v) for v in q0.answer))
    page.get_by_role("button", name="Check").click()
    page.get_by_text(f"Right: layer(x).shape = {q0.answer}").wait_for(timeout=LOAD_TIMEOUT_MS)
    page.locator(".katex").nth(1).wait_for(timeout=LOAD_TIMEOUT_MS)  # rule and numbers
    assert "Score 1 / 1" in page.locator('[data-testid="stProgress"]').inner_text()
    page.get_by_role("button", name="Next question").click()
    page.get_by_text(q1.code().splitlines()[1]).wait_for(timeout=LOAD_TIMEOUT_MS)
    wrong = q1.out_spatial[0] + 2
    page.get_by_label("Your prediction of layer(x).shape").fill(str(wrong))
    page.get_by_label("Your prediction of layer(x).shape").press("Enter")  # the form submits
    page.get_by_text(f"Not quite: you said ({wrong},); layer(x).shape = {q1.answer}").wait_for(
        timeout=LOAD_TIMEOUT_MS)
    wait_until_idle(page)
    assert "Score 1 / 2" in page.locator('[data-testid="stProgress"]').inner_text()
    shot(page, artifacts, "drill-wrong-answer")
    page.get_by_role("button", name="See your score").click()
    page.get_by_text("Done: 1 of 2 right").wait_for(timeout=LOAD_TIMEOUT_MS)
    assert_no_exception(page)
    assert_no_js_errors(page)
