"""A classroom against the server: N simulated students over Streamlit's own websocket
protocol (deploy/session_client.py), against one Streamlit process and against the nginx
replicas of deploy/serve.py.

Each student loads the 2-D page (``/explorer_2d``), then, every ``--interval`` seconds (first
one at a random offset), either steps or changes a control, in turns:

- step: the browser-side view steps with no server round trip; what reaches the server is
  the view's debounced report when the student stops (``e2.view``: scene, step), one rerun;
- control: moves ``e2.stride.0`` between two valid values, or ``e2.size.0`` when there is no
  stride.

With ``--mode view`` every interaction is instead a layer change in the browser view, as the
view makes it: a GET of the scene API (``/api/v1/scene``, the stride moved between 1 and 2:
"scene API", the time to the answer, what the student waits for), then, 400 ms later, the one
debounced report (``e2.view`` with the new layer's query: "report", a rerun that brings the
sidebar, panels and URL along).

Latency of an interaction is the time from sending its BackMsg to the script-finished
ForwardMsg.  Errors are runs that show a traceback, time out or lose their connection
(``st.error`` messages are counted apart).  The students run in this process, on the same
machine as the server: their own CPU use (parsing ~25-50 kB of protobuf per rerun) is part of
the load.

    python benchmarks/bench_classroom.py                      # N = 1, 10, 30; both targets
    python benchmarks/bench_classroom.py --students 30 --duration 60 --targets replicas
    python benchmarks/bench_classroom.py --url http://school-server:8080   # a running server
    python benchmarks/bench_classroom.py --mode view --students 30 --targets single
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deploy import serve  # noqa: E402
from deploy.session_client import Session  # noqa: E402

PAGE = "explorer_2d"
TARGET_P95_S = 0.300
TARGET_VIEW_P95_S = 0.150  # a layer change in the view: the scene API's answer


@dataclass
class Tally:
    """Latencies (s) per interaction kind, errors, and what the students used."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    notices: int = 0
    used: set[str] = field(default_factory=set)

    def add(self, kind: str, run) -> None:
        if isinstance(run, float):  # a plain HTTP request: its seconds
            self.seconds[kind].append(run)
            return
        self.seconds[kind].append(run.seconds)
        self.notices += len(run.errors)
        self.errors.extend(f"{kind}: {e}" for e in run.exceptions)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def number_value(widget) -> float:
    proto = widget.proto
    if widget.kind == "slider":
        return (list(proto.value) if proto.set_value else list(proto.default))[0]
    return proto.value if proto.set_value else proto.default


class Student:
    """One simulated student: the page, then steps and control changes in turns."""

    def __init__(self, url: str, tally: Tally):
        self.session = Session(url, page=PAGE)
        self.url = url
        self.seq = 10_000
        self.tally = tally
        self.step = 0
        self.start_values: dict[str, float] = {}

    async def load(self) -> None:
        await self.session.open()
        self.tally.add("load", await self.session.rerun())

    def step_change(self) -> tuple[str, dict]:
        """The browser view's report after the student stepped (in the browser, no rerun)
        and stopped: one rerun that moves the arithmetic panel and the URL."""
        if "e2.view" not in self.session.widgets:
            return "rerun", {}
        steps = math.prod(self.session.view_payload("e2.view")["scene"]["out_shape"])
        self.step = (self.step + 1) % steps
        return "e2.view report", {"e2.view": self.session.view_report("e2.view",
                                                                      step=self.step)}

    def control_change(self) -> tuple[str, dict]:
        """Move the first control there is one away from where it started, or back."""
        widgets = self.session.widgets
        for key in ("e2.stride.0", "e2.size.0"):
            widget = widgets.get(key)
            if widget is None or widget.kind != "number_input":
                continue
            value, proto = number_value(widget), widget.proto
            start = self.start_values.setdefault(key, value)
            if value != start:
                return key, {key: start}
            if not proto.has_max or value + 1 <= proto.max:
                return key, {key: value + 1}
            if not proto.has_min or value - 1 >= proto.min:
                return key, {key: value - 1}
        return "rerun", {}

    async def interact(self, kind: str) -> None:
        if kind == "view":
            await self.view_change()
            return
        name, change = self.step_change() if kind == "step" else self.control_change()
        self.tally.used.add(f"{kind}: {name}")
        self.tally.add(kind, await self.session.rerun(change))

    async def view_change(self) -> None:
        """The stride moved in the browser view: the scene API answers the new layer (what
        the student waits for), and 400 ms later the view's one report reruns the page."""
        payload = self.session.view_payload("e2.view")
        query = dict(payload.get("query") or {})
        query["stride"] = "1" if query.get("stride", "1") != "1" else "1,2"
        address = f"{self.url}/api/v1/scene?page={PAGE}&" + "&".join(
            f"{k}={v}" for k, v in query.items())

        def fetch() -> tuple[float, dict]:
            t0 = time.perf_counter()
            with urllib.request.urlopen(address, timeout=30) as r:
                body = json.loads(r.read())
            return time.perf_counter() - t0, body

        seconds, answer = await asyncio.get_running_loop().run_in_executor(None, fetch)
        self.tally.add("scene API", seconds)
        self.tally.used.add("view: stride (scene API + report)")
        await asyncio.sleep(0.4)
        self.seq += 1
        report = {"view": {"scene": answer["scene_id"], "seq": self.seq, **answer["init"],
                           "query": answer["query"]}}
        self.tally.add("report", await self.session.rerun({"e2.view": report}))


async def run_class(url: str, students: int, duration: float, interval: float,
                    seed: int, mode: str = "reruns") -> Tally:
    tally = Tally()
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def one(i: int) -> None:
        student = Student(url, tally)
        await asyncio.sleep(rng.uniform(0, interval))
        try:
            await student.load()
            kinds = (["view"] if mode == "view" else
                     ["step", "control"] if i % 2 == 0 else ["control", "step"])
            n = 0
            next_at = loop.time() + interval
            while next_at < start + duration:
                await asyncio.sleep(max(0.0, next_at - loop.time()))
                await student.interact(kinds[n % len(kinds)])
                n += 1
                next_at += interval
        except (TimeoutError, OSError, ConnectionError) as e:
            tally.errors.append(f"student {i}: {type(e).__name__}: {e}")
        except Exception as e:  # a lost websocket and the like: counted, not fatal
            tally.errors.append(f"student {i}: {type(e).__name__}: {e}")
        finally:
            await student.session.close()

    await asyncio.gather(*(one(i) for i in range(students)))
    return tally


# ------------------------------------------------------------------------------ targets

class Target:
    """A server to measure: one Streamlit process, or deploy/serve.py's replicas."""

    def __init__(self, kind: str, replicas: int):
        self.kind, self.replicas = kind, replicas
        self.workdir = Path(tempfile.mkdtemp(prefix=f"classroom-{kind}-"))
        self.url = ""
        self._replica = None
        self._serve = None
        self.watcher_lines: list[str] = []

    def start(self) -> None:
        if self.kind == "single":
            (self.workdir / "logs").mkdir()
            port = serve.free_port()
            self._replica = serve.Replica(port, ROOT / "app" / "streamlit_app.py",
                                          self.workdir, "bench")
            self._replica.start()
            serve.wait_healthy([self._replica], serve.HEALTH_TIMEOUT_S)
            self.url = f"http://127.0.0.1:{port}"
            return
        port = serve.free_port()
        self._serve = subprocess.Popen(
            [sys.executable, str(ROOT / "deploy" / "serve.py"), "--replicas",
             str(self.replicas), "--host", "127.0.0.1", "--port", str(port),
             "--first-port", "0", "--workdir", str(self.workdir)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for line in self._serve.stdout:
            if line.startswith("READY "):
                self.url = line.split()[1]
                # keep reading: serve.py's watcher reports slow health checks and restarts
                threading.Thread(target=lambda: self.watcher_lines.extend(self._serve.stdout),
                                 daemon=True).start()
                return
        raise SystemExit(f"deploy/serve.py exited with {self._serve.wait()}")

    def replica_urls(self) -> list[str]:
        """Each Streamlit process's own address (to warm them up one by one)."""
        if self._replica:
            return [self.url]
        conf = (self.workdir / "nginx.conf").read_text()
        return [f"http://127.0.0.1:{p}" for p in re.findall(r"server 127\.0\.0\.1:(\d+)", conf)]

    def streamlit_pids(self) -> list[int]:
        pids = [self._replica.process.pid] if self._replica else children(self._serve.pid)
        return [p for p in pids if "streamlit" in read_proc(p, "cmdline")]

    def server_rss_mb(self) -> float:
        """Resident memory of the Streamlit processes, in MB."""
        return sum(int(read_proc(p, "status").split("VmRSS:")[1].split()[0]) * 1024
                   for p in self.streamlit_pids()) / 1e6

    def server_cpu_s(self) -> float:
        """CPU seconds the Streamlit processes have used (user + system)."""
        ticks = 0
        for pid in self.streamlit_pids():
            fields = read_proc(pid, "stat").rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self._replica:
            self._replica.stop()
        if self._serve:
            self._serve.terminate()
            self._serve.wait(60)


def read_proc(pid: int, name: str) -> str:
    try:
        return Path(f"/proc/{pid}/{name}").read_text()
    except OSError:
        return ""


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


# ------------------------------------------------------------------------------- report

def summary_rows(target: str, students: int, tally: Tally) -> list[list[str]]:
    rows = []
    for kind in ("load", "step", "control", "scene API", "report", "all"):
        values = ([*tally.seconds["step"], *tally.seconds["control"],
                   *tally.seconds["report"]] if kind == "all" else tally.seconds.get(kind, []))
        if not values:
            continue
        rows.append([target, str(students), kind, str(len(values)),
                     f"{statistics.median(values) * 1000:.0f}",
                     f"{percentile(values, 95) * 1000:.0f}",
                     f"{max(values) * 1000:.0f}",
                     str(len(tally.errors)) if kind == "all" else ""])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--targets", nargs="+", default=["single", "replicas"],
                        choices=["single", "replicas"])
    parser.add_argument("--replicas", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--duration", type=float, default=45.0,
                        help="seconds each class size runs (after its students arrive)")
    parser.add_argument("--interval", type=float, default=3.0,
                        help="seconds between one student's interactions")
    parser.add_argument("--url", default=None, help="measure this running server instead")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", choices=["reruns", "view"], default="reruns",
                        help="reruns: steps and sidebar changes; view: layer changes in the "
                             "browser view (scene API + one report)")
    args = parser.parse_args()

    print(f"# {platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"interval {args.interval} s, {args.duration} s per class size")
    header = ["target", "students", "interaction", "n", "p50 ms", "p95 ms", "max ms", "errors"]
    rows, used, rss, cpu_ms = [], set(), {}, {}
    targets = [("url", None)] if args.url else [(t, None) for t in args.targets]
    for kind, _ in targets:
        target = None
        if kind == "url":
            url, name = args.url, args.url
        else:
            target = Target(kind, args.replicas)
            target.start()
            url = target.url
            name = "1 process" if kind == "single" else f"nginx + {args.replicas} replicas"
        try:
            for warm_url in target.replica_urls() if target else [url]:  # first runs import
                asyncio.run(run_class(warm_url, 1, 2 * args.interval, args.interval, args.seed))
            for n in args.students:
                started = time.perf_counter()
                cpu = target.server_cpu_s() if target else 0.0
                tally = asyncio.run(run_class(url, n, args.duration + args.interval,
                                              args.interval, args.seed + n, args.mode))
                rows += summary_rows(name, n, tally)
                if target is not None:
                    runs = sum(len(v) for v in tally.seconds.values())
                    cpu_ms[(name, n)] = (target.server_cpu_s() - cpu) / max(runs, 1) * 1000
                used |= tally.used
                for e in tally.errors[:5]:
                    print(f"  error ({name}, N={n}): {e}")
                if tally.notices:
                    print(f"  {tally.notices} st.error notices ({name}, N={n})")
                print(f"  {name}, N={n}: {time.perf_counter() - started:.0f} s, load average "
                      f"{os.getloadavg()[0]:.1f} (other work on the machine shows here)",
                      flush=True)
            if target is not None:
                rss[name] = target.server_rss_mb()
                slow = [ln for ln in target.watcher_lines if "slow health check" in ln]
                if slow:
                    worst = max(float(ln.split(": ")[-1].split()[0]) for ln in slow)
                    print(f"  {name}: {len(slow)} slow health checks (> "
                          f"{serve.SLOW_PROBE_S} s), the slowest {worst:.2f} s")
                for ln in target.watcher_lines:
                    if "killing" in ln or "exited" in ln or "busy, kept" in ln:
                        print(f"  {name}: serve.py: {ln.strip()}")
        finally:
            if target is not None:
                target.stop()
    print("\nwidgets used: " + "; ".join(sorted(used)))
    print("\n| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i < 3 else "---:" for i in range(len(header))) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    for name, mb in rss.items():
        print(f"\nserver memory after the runs ({name}): {mb:.0f} MB resident")
    for (name, n), ms in cpu_ms.items():
        per_core = args.interval * 1000 / ms
        print(f"server CPU per rerun ({name}, N={n}): {ms:.0f} ms: one core saturates at "
              f"{per_core:.0f} students (one rerun per student every {args.interval:g} s)")
    kind, target = (("scene API", TARGET_VIEW_P95_S) if args.mode == "view" else
                    ("all", TARGET_P95_S))
    worst = {(r[0], int(r[1])): int(r[5]) for r in rows if r[2] == kind}
    for (name, n), p95 in sorted(worst.items()):
        verdict = "meets" if p95 <= target * 1000 else "misses"
        print(f"{name}, {n} students: {kind} p95 {p95} ms {verdict} the {target * 1000:.0f} "
              "ms target")


if __name__ == "__main__":
    main()
