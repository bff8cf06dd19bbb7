"""The receptive-field page and the shape drill, against references measured in the same run.

1. Rerun latency with Streamlit's AppTest (target <= 150 ms): on the receptive-field page a
   layer's stride, the number of layers, the dimensions and the pinned cell the browser
   reports; on the drill checking an answer, the next question and a new seed.  Reference: the
   default 2-D explorer page rerunning after the browser view reports a step.  Medians of
   interleaved rounds (every move once per round), each with its ratio to the reference.
2. ``--browser``: a hover in the receptive-field view, timed with ``performance.now()`` in the
   page (a real ``mousemove`` dispatched on the canvas, to the end of the redraw and to the next
   animation frame), on the default stack, a 128x128 input through 8 layers of 7x7, and a
   1-D input of 1024 through 8 dilated layers; reference: an output-cell hover on the default
   2-D explorer.  Websocket messages sent while hovering are counted.

    python benchmarks/bench_pages.py [--rounds 15] [--browser]
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402
from bench_browser import MEDIAN_P95  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

import convcore as cc  # noqa: E402
from app.drill import questions as drill  # noqa: E402

ENTRY = str(ROOT / "app" / "streamlit_app.py")
RF_VIEW = '[data-testid="cx-rf-root"]'
HOVER_RF = """async ([level, n]) => {
  const v = document.querySelector('[data-testid="cx-rf-root"]').__cx;
  const frame = () => new Promise((r) => requestAnimationFrame(() => r(performance.now())));
  const g = v.grids[level];
  const sync = [], painted = [];
  for (let i = 0; i < n; i++) {
    const b = g.dyn.getBoundingClientRect();
    const r = (i * 7) % g.rows, c = (i * 3) % g.cols;
    const t0 = performance.now();
    g.dyn.dispatchEvent(new MouseEvent('mousemove', {bubbles: true,
      clientX: b.left + (c + 0.5) * g.cs, clientY: b.top + (r + 0.5) * g.ch}));
    sync.push(performance.now() - t0);
    painted.push((await frame()) - t0);
  }
""" + MEDIAN_P95 + """  return [med(sync), p95(sync), med(painted), p95(painted)];
}"""
BIG_2D = "/receptive?in=128&layers=" + ",".join(["k7"] * 8)
BIG_1D = "/receptive?nd=1&in=1024&layers=" + ",".join(f"k3d{2**i}" for i in range(8))


def session(page: str | None, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=300).run()
    if page:
        at.switch_page(page)
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def moves() -> dict:
    """name -> (prepare(i), the AppTest to run), one session per page."""
    import view_payload as vp

    explorer = session("pages/explorer_2d.py")
    rf = session("pages/receptive.py")
    dr = session("pages/drill.py", {"seed": "1234", "n": "50"})
    seq = iter(range(1, 10**9))

    def report_step(i):
        vp.report(explorer, 2, seq=next(seq), step=i % 8)

    def rf_cell(i):
        import json
        proto = next(e.proto for e in rf.main if getattr(getattr(e, "proto", None),
                                                         "component_name", "") ==
                     "convcore_receptive")
        sid = json.loads(json.loads(proto.json))["scene_id"]
        rf.session_state["rf.view"] = {"cell": {"scene": sid, "seq": next(seq),
                                                "cell": [i % 10, (i * 3) % 10]}}

    state = {"q": 0}

    def check(i):
        q = drill.question(1234, state["q"], 50)
        dr.text_input(key=f"drill.guess.{state['q']}").input(
            ", ".join(str(v) for v in q.answer))
        dr.button(key=f"drill.check.{state['q']}").click()

    def next_question(i):
        dr.button(key=f"drill.next.{state['q']}").click()
        state["q"] += 1

    return {
        "reference: 2-D explorer, the view reports a step": (report_step, explorer),
        "receptive: layer 1 stride (1 <-> 2)": (
            lambda i: rf.number_input(key="rf.L0.stride").set_value(1 + i % 2), rf),
        "receptive: layers (3 <-> 4)": (
            lambda i: rf.number_input(key="rf.count").set_value(3 + i % 2), rf),
        "receptive: the view reports a pinned cell": (rf_cell, rf),
        "drill: check an answer": (check, dr),
        "drill: next question": (next_question, dr),
    }


def rerun_latency(rounds: int) -> dict:
    cases = moves()
    times = {name: [] for name in cases}
    for i in range(rounds + 2):  # interleaved: drift hits every move alike; 2 warm-up rounds
        for name, (prepare, at) in cases.items():
            prepare(i)
            t0 = time.perf_counter()
            at.run()
            if i >= 2:
                times[name].append((time.perf_counter() - t0) * 1e3)
            assert not at.exception, (name, [e.value for e in at.exception])
    # the dimensions toggle and a new drill seed, on fresh sessions (they change the layout)
    rf = session("pages/receptive.py")
    dr = session("pages/drill.py", {"seed": "1234"})
    extra = {"receptive: dimensions (2-D <-> 1-D)": [], "drill: a new seed": []}
    for i in range(rounds + 2):
        rf.radio(key="rf.ndim").set_value(1 + (i + 1) % 2)
        dr.number_input(key="drill.seed").set_value(1000 + i)
        for name, at in zip(extra, (rf, dr)):
            t0 = time.perf_counter()
            at.run()
            if i >= 2:
                extra[name].append((time.perf_counter() - t0) * 1e3)
            assert not at.exception, [e.value for e in at.exception]
    times.update(extra)
    return {name: statistics.median(v) for name, v in times.items()}


def browser_hover(n: int) -> dict:
    from bench_browser import ARGS, TIME_UPDATES, open_view, serve
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("no chromium on PATH (apt-get install chromium)")
    app, url = serve(ROOT / "app" / "streamlit_app.py")
    out = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=ARGS)
            ctx, page = open_view(browser, url + "/explorer_2d")
            out["reference: 2-D explorer, output hover"] = (
                page.evaluate(TIME_UPDATES, ["output", n]), 0)
            ctx.close()
            for name, path, level in (("default stack (16x16, 3 layers of 3x3)", "/receptive", -1),
                                      ("128x128 through 8 layers of 7x7", BIG_2D, -1),
                                      ("1-D 1024 through 8 dilated layers", BIG_1D, -1),
                                      ("128x128: hover the input (level 0)", BIG_2D, 0)):
                ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
                from bench_browser import COUNT_WS
                ctx.add_init_script(COUNT_WS)
                page = ctx.new_page()
                page.goto(url + path)
                page.wait_for_selector(f"{RF_VIEW} .cx-plot .main-svg", timeout=120_000)
                page.wait_for_timeout(1500)
                levels = page.evaluate(f"document.querySelector('{RF_VIEW}').__cx.grids.length")
                sent = page.evaluate("window.__wsSent")
                timing = page.evaluate(HOVER_RF, [level % levels, n])
                out[name] = (timing, page.evaluate("window.__wsSent") - sent)
                ctx.close()
            browser.close()
    finally:
        app.terminate()
        app.wait(timeout=15)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--browser", action="store_true", help="also time hovers in Chromium")
    args = ap.parse_args()
    print(f"# new pages, backend {cc.backend_name()}, numpy {np.__version__}, "
          f"{platform.machine()}, median of {args.rounds} interleaved rounds")
    print("\n## AppTest rerun after a control change (target <= 150 ms)\n")
    print("| move | AppTest run ms | / reference |")
    print("|---|---:|---:|")
    med = rerun_latency(args.rounds)
    ref = next(v for name, v in med.items() if name.startswith("reference"))
    for name, v in med.items():
        print(f"| {name} | {v:.0f} | {v / ref:.2f} |")
    if args.browser:
        print("\n## Hover in the browser view, 200 mousemoves (ms: sync median / p95, "
              "to next frame median / p95)\n")
        print("| view | sync | next frame | websocket messages sent |")
        print("|---|---:|---:|---:|")
        for name, ((s50, s95, p50, p95), sent) in browser_hover(200).items():
            print(f"| {name} | {s50:.1f} / {s95:.1f} | {p50:.1f} / {p95:.1f} | {sent} |")


if __name__ == "__main__":
    main()
