"""The network convcore trains (app/network), against references measured in the same run.

1. Training: seconds of training (evaluation excluded) until the test accuracy first reaches
   97 %, and for all epochs, convcore (``net.train``) against PyTorch training the same net
   (same initial weights, batches, Adam and cosine schedule), one thread each (BLAS limited
   with threadpoolctl, ``torch.set_num_threads(1)``), paired rounds in alternating order.
2. The page's first paint with the shipped weights: navigation to the view painted (the
   loader's ``cx-drawn`` mark, ``performance`` in the page) for the first visit after a
   server start, fresh browser contexts and reloads; a one-``st.plotly_chart`` page as the
   floor the stack sets.
3. Drawing: for every update while strokes are drawn with the mouse, the view's own
   ``performance.now()`` from the pointer event to the maps painted and to the next frame;
   the forward pass alone (200 calls in the page); websocket messages sent while drawing.

    python benchmarks/bench_network.py [--rounds 3] [--backend numpy|cupy]

Needs Chromium (``apt-get install chromium``) and the ``playwright`` package for 2 and 3;
``--skip-browser`` runs 1 only, ``--skip-training`` 2 and 3.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from bench_browser import ARGS, COUNT_WS, REFERENCE, first_chart, serve  # noqa: E402

from app.network import net  # noqa: E402
from app.network.data import digits  # noqa: E402

TARGET = 0.97
NET_VIEW = '[data-testid="cx-net-root"]'
ZERO = [[(0.5 + 0.25 * np.sin(t / 24 * 2 * np.pi), 0.5 - 0.38 * np.cos(t / 24 * 2 * np.pi))
         for t in range(25)]]
FORWARD_IN_PAGE = """(n) => {
  const v = document.querySelector('[data-testid="cx-net-root"]').__cx;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) v.update();
  return (performance.now() - t0) / n;
}"""


# ------------------------------------------------------------------------------ training

def train_convcore(seed: int, xp) -> tuple[float | None, float, float]:
    """(seconds to 97 %, total seconds, final accuracy) of net.train."""
    reached = []

    def on_epoch(epoch, t):
        if not reached and t.history["test_accuracy"][-1] >= TARGET:
            reached.append(t.seconds)

    t = net.train(seed, digits(), xp=xp, on_epoch=on_epoch)
    return (reached[0] if reached else None), t.seconds, t.test_accuracy


def train_torch(seed: int) -> tuple[float | None, float, float]:
    """The same training in PyTorch: same initial weights, batches, Adam, schedule."""
    import torch
    import torch.nn.functional as F

    d = digits()
    p = {k: torch.tensor(v) for k, v in net.init_params(seed).items()}
    for v in p.values():
        v.requires_grad_(True)
    opt = torch.optim.Adam(list(p.values()), lr=net.CONFIG.lr)
    x, y = torch.tensor(d.x_train), torch.tensor(d.y_train)
    xt = torch.tensor(d.x_test)

    def forward(x):
        h = F.max_pool2d(F.relu(F.conv2d(x, p["conv1.w"], p["conv1.b"], padding=1)), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, p["conv2.w"], p["conv2.b"], padding=1)), 2)
        return F.linear(h.flatten(1), p["fc.w"], p["fc.b"])

    rng = np.random.default_rng(seed)
    seconds, reached, acc = 0.0, None, 0.0
    for epoch in range(net.CONFIG.epochs):
        t0 = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = net.learning_rate(net.CONFIG, epoch)
        for idx in net.batches(len(d.y_train), net.CONFIG.batch, rng):
            opt.zero_grad()
            F.cross_entropy(forward(x[idx]), y[idx]).backward()
            opt.step()
        seconds += time.perf_counter() - t0
        with torch.no_grad():
            acc = float((forward(xt).argmax(1).numpy() == d.y_test).mean())
        if reached is None and acc >= TARGET:
            reached = seconds
    return reached, seconds, acc


def training(rounds: int, backend: str) -> None:
    import torch
    from threadpoolctl import threadpool_limits

    from convcore.backend import xp_by_name

    xp = xp_by_name(backend)
    torch.set_num_threads(1)
    digits()
    ours, theirs = [], []
    with threadpool_limits(limits=1, user_api="blas"):
        train_convcore(0, xp)  # warm-up: imports, plans, caches
        train_torch(0)
        for r in range(rounds):
            order = ((ours, lambda: train_convcore(0, xp)), (theirs, lambda: train_torch(0)))
            for out, fn in order if r % 2 == 0 else order[::-1]:
                out.append(fn())
                time.sleep(0.3)

    def med(rows, i):
        vals = [row[i] for row in rows if row[i] is not None]
        return statistics.median(vals) if vals else float("nan")

    print(f"## Training seed 0, {net.CONFIG.epochs} epochs, one thread each, median of "
          f"{rounds} paired rounds ({backend})\n")
    print("| | s to 97 % | s, all epochs | final test accuracy |\n|---|---:|---:|---:|")
    for name, rows in (("convcore (net.train)", ours), ("PyTorch, same net", theirs)):
        print(f"| {name} | {med(rows, 0):.2f} | {med(rows, 1):.2f} | "
              f"{100 * rows[-1][2]:.2f} % |")
    print(f"\nratio convcore / PyTorch: to 97 % {med(ours, 0) / med(theirs, 0):.2f}, all epochs "
          f"{med(ours, 1) / med(theirs, 1):.2f}")


# ------------------------------------------------------------------------------ the page

def painted(browser, url: str) -> tuple[float, float]:
    """(fresh context, reload) ms from navigation to the view painted, from the page."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    out = []
    for _ in range(2):
        page.goto(url)
        page.wait_for_selector(f"{NET_VIEW} .cx-net-map", timeout=120_000)
        out.append(page.evaluate("performance.getEntriesByName('cx-drawn')[0].startTime"))
    ctx.close()
    return out[0], out[1]


def browser_part(rounds: int) -> None:
    from playwright.sync_api import sync_playwright
    from test_network_view import FOUR, SEVEN, draw

    strokes_of = (FOUR, SEVEN, ZERO)
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("no chromium on PATH (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        ref_script = Path(tmp) / "reference.py"
        ref_script.write_text(REFERENCE)
        app, app_url = serve(ROOT / "app" / "streamlit_app.py")
        ref, ref_url = serve(ref_script)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=ARGS)
                first_visit = painted(browser, app_url + "/network")[0]
                first_chart(browser, ref_url, '[data-testid="stPlotlyChart"] .main-svg')
                fresh, reload, ref_fresh, ref_reload = [], [], [], []
                for _ in range(rounds):
                    f, r = painted(browser, app_url + "/network")
                    fresh.append(f)
                    reload.append(r)
                    f, r = first_chart(browser, ref_url, '[data-testid="stPlotlyChart"] .main-svg')
                    ref_fresh.append(1e3 * f)
                    ref_reload.append(1e3 * r)
                ctx = browser.new_context(viewport={"width": 1280, "height": 900})
                ctx.add_init_script(COUNT_WS)
                page = ctx.new_page()
                page.goto(app_url + "/network")
                page.wait_for_selector(f"{NET_VIEW} .cx-net-map", timeout=120_000)
                page.wait_for_timeout(1500)
                forward_ms = page.evaluate(FORWARD_IN_PAGE, 200)
                sent = page.evaluate("window.__wsSent")
                during = 0
                for _ in range(rounds):
                    for strokes in strokes_of:
                        page.locator(f"{NET_VIEW} button", has_text="Clear").click()
                        page.wait_for_timeout(500)
                        before = page.evaluate("window.__wsSent")
                        draw(page, strokes, steps=10)
                        page.wait_for_timeout(100)
                        during += page.evaluate("window.__wsSent") - before
                        page.wait_for_timeout(600)
                after = page.evaluate("window.__wsSent") - sent
                timings = page.evaluate(f"document.querySelector('{NET_VIEW}').__cx.timings")
                ctx.close()
                browser.close()
        finally:
            app.kill()
            ref.kill()
    med = statistics.median
    print(f"\n## Network page, view painted (ms from navigation, in the page; median of {rounds})"
          "\n")
    print("| | first visit after server start | fresh context | reload |\n|---|---:|---:|---:|")
    print(f"| network page, shipped weights | {first_visit:.0f} | {med(fresh):.0f} | "
          f"{med(reload):.0f} |")
    print(f"| reference: one st.plotly_chart (to its SVG) | | {med(ref_fresh):.0f} | "
          f"{med(ref_reload):.0f} |")
    print(f"\nratio network / reference: fresh {med(fresh) / med(ref_fresh):.2f}, reload "
          f"{med(reload) / med(ref_reload):.2f}")
    compute = sorted(t["compute"] for t in timings)
    frame = sorted(t["frame"] for t in timings)
    n = len(frame)
    print(f"\n## Drawing → every map updated ({n} updates while drawing {rounds}×"
          f"{len(strokes_of)} digits; ms from the pointer event, in the page)\n")
    print("| | median | p95 | max |\n|---|---:|---:|---:|")
    for name, vals in (("maps painted", compute), ("next frame", frame)):
        print(f"| {name} | {vals[n // 2]:.1f} | {vals[int(n * 0.95)]:.1f} | {vals[-1]:.1f} |")
    print(f"\nWithin 50 ms of the pointer event (next frame): "
          f"{100 * sum(v <= 50 for v in frame) / n:.1f} % of the updates.")
    print(f"\nForward pass + repaint of 48 maps alone: {forward_ms:.2f} ms per update (200 in the "
          f"page). Websocket messages sent while drawing: {during}; in all {after} (one "
          f"debounced report per digit and per Clear: {2 * rounds * len(strokes_of)}).")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    ap.add_argument("--skip-browser", action="store_true")
    ap.add_argument("--skip-training", action="store_true")
    args = ap.parse_args()
    if not args.skip_training:
        training(args.rounds, args.backend)
    if not args.skip_browser:
        browser_part(args.rounds)


if __name__ == "__main__":
    main()
