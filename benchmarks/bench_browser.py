"""Time to the first chart in a real browser, against a one-chart Streamlit page in the same run.

Starts ``streamlit run`` for the app and for a reference page (a title and one 2x2 Plotly
heatmap, written to a temporary folder), then opens each URL in a fresh Chromium context
several times and reports the median seconds from navigation to the first drawn Plotly chart
(``stPlotlyChart .main-svg``).  The reference is the floor the stack itself sets (Streamlit's
frontend and the Plotly chunk it loads), so the ratio is what the app adds.

    python benchmarks/bench_browser.py [--rounds 7]

Needs Chromium (``apt-get install chromium``) and the ``playwright`` package.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
REFERENCE = """import plotly.graph_objects as go
import streamlit as st

st.title("Reference")
st.plotly_chart(go.Figure(go.Heatmap(z=[[1, 2], [3, 4]])))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(script: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"streamlit did not answer on {url}")


def first_chart_seconds(browser, url: str) -> float:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
    elapsed = time.perf_counter() - t0
    ctx.close()
    return elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

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
                pages = {"reference (one chart)": ref_url,
                         "2-D explorer": app_url + "/explorer_2d",
                         "1-D explorer": app_url + "/"}
                for url in pages.values():  # warm both servers (imports, caches)
                    first_chart_seconds(browser, url)
                times = {name: [] for name in pages}
                for _ in range(args.rounds):  # interleaved, so drift hits all alike
                    for name, url in pages.items():
                        times[name].append(first_chart_seconds(browser, url))
                browser.close()
        finally:
            app.kill()
            ref.kill()
    base = statistics.median(times["reference (one chart)"])
    print(f"# first chart visible, headless Chromium, median of {args.rounds} loads")
    print("| page | median s | min s | ratio to reference |\n|---|---:|---:|---:|")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| {name} | {med:.2f} | {min(ts):.2f} | {med / base:.2f} |")


if __name__ == "__main__":
    main()
