"""Fault injection against deploy/serve.py: a class on nginx + replicas, one replica killed
(SIGKILL) or hung (SIGSTOP) while the students work; how long each student waits, and what
they keep.

Students load the 2-D explorer (every fifth one the shape drill instead), put state into their
URLs (a stride and a step; a checked drill answer and the next question), then click every
``--interval`` seconds.  At the fault every student clicks at once and, when the click fails
(the websocket closed), reconnects as Streamlit's page does (``Session.resume``: its own back-off
of 250-500 ms first, the health check, the websocket) and clicks again.  A student's downtime is
the time from the fault to the end of the first click served after it.  Afterwards:

- *URL state lost*: the new session's URL differs from the one before, apart from the step the
  click itself moves (the page writes its settings and the drill's progress back to the URL
  after every run, so a lost value shows);
- *moved back*: sessions that, after the faulty replica is serving again, were no longer on the
  replica that took them over (they would have lost their session a second time).

    python benchmarks/bench_faults.py                          # 30 students, 2 replicas
    python benchmarks/bench_faults.py --students 60 --rounds 3 --faults kill
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.drill import questions as drill_questions  # noqa: E402
from deploy import serve  # noqa: E402
from deploy.session_client import Session  # noqa: E402

FAULTS = {"kill": signal.SIGKILL, "hang": signal.SIGSTOP}


@dataclass
class Student:
    session: Session
    kind: str  # "explorer" or "drill"
    url_before: str = ""
    session_before: str = ""
    clicks: int = 0

    async def click(self) -> None:
        """One interaction: the explorer's view reports a step; the drill's page reruns."""
        self.clicks += 1
        if self.kind == "explorer" and "e2.view" in self.session.widgets:
            step = 1 + self.clicks % 3
            run = await self.session.rerun({"e2.view": self.session.view_report("e2.view",
                                                                               step=step)})
        else:
            run = await self.session.rerun()
        if run.exceptions:
            raise RuntimeError(run.exceptions[0])


@dataclass
class Round:
    fault: str
    victim: str
    on_victim: list[float] = field(default_factory=list)  # downtime, s
    others: list[float] = field(default_factory=list)  # their first click after the fault, s
    url_lost: int = 0
    moved_back: int = 0
    errors: list[str] = field(default_factory=list)


class Server:
    def __init__(self, replicas: int):
        self.workdir = Path(tempfile.mkdtemp(prefix="faults-"))
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "deploy" / "serve.py"), "--replicas", str(replicas),
             "--host", "127.0.0.1", "--port", str(serve.free_port()), "--first-port", "0",
             "--workdir", str(self.workdir)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for line in self.process.stdout:
            if line.startswith("READY "):
                self.url = line.split()[1]
                break
        else:
            raise SystemExit(f"deploy/serve.py exited with {self.process.wait()}")

    def replicas(self) -> dict[str, dict]:
        rows = json.loads((self.workdir / "replicas.json").read_text())
        return {r["name"]: r for r in rows}

    def wait_serving(self, name: str, old_pid: int, timeout: float = 120) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            row = self.replicas()[name]
            if row["pid"] != old_pid and serve.healthy(row["port"], timeout=1):
                return time.monotonic() - started
            time.sleep(0.1)
        raise TimeoutError(f"replica {name} not back after {timeout} s")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)
        shutil.rmtree(self.workdir, ignore_errors=True)


async def arrive(url: str, i: int) -> Student:
    kind = "drill" if i % 5 == 4 else "explorer"
    if kind == "drill":
        s = Student(Session(url, page="drill", query=f"seed={i}&n=5", timeout=120), kind)
        await s.session.open()
        await s.session.rerun()
        q0 = drill_questions.question(i, 0, 5)
        await s.session.rerun({"drill.guess.0": ", ".join(map(str, q0.answer)),
                               "drill.check.0": True})
        await s.session.rerun({"drill.next.0": True})
    else:
        s = Student(Session(url, page="explorer_2d", timeout=120), kind)
        await s.session.open()
        await s.session.rerun()
        await s.session.rerun({"e2.stride.0": 2})
        await s.click()
    return s


async def fault_round(server: Server, fault: str, students: int, interval: float,
                      seed: int) -> Round:
    rng = random.Random(seed)
    tabs = []
    for i in range(students):  # arriving one after another, as a class does
        tabs.append(await arrive(server.url, i))
    names = [t.session.cookies[serve.COOKIE] for t in tabs]
    victim = max(set(names), key=names.count)
    result = Round(fault, victim)

    async def work(t: Student, until: float) -> None:  # clicks at random moments
        while time.monotonic() < until:
            await asyncio.sleep(rng.uniform(0, 2 * interval))
            await t.click()

    await asyncio.gather(*(work(t, time.monotonic() + 2 * interval) for t in tabs))
    for t in tabs:
        t.url_before, t.session_before = t.session.query, t.session.session_id
    old_pid = server.replicas()[victim]["pid"]
    os.kill(old_pid, FAULTS[fault])
    started = time.monotonic()

    async def served_again(t: Student) -> float:
        try:
            await t.click()
        except Exception:
            deadline = started + 120
            while True:
                try:
                    await t.session.resume()
                    await t.click()
                    break
                except Exception as e:
                    if time.monotonic() > deadline:
                        result.errors.append(f"{type(e).__name__}: {e}")
                        return float("nan")
        return time.monotonic() - started

    waits = await asyncio.gather(*(served_again(t) for t in tabs))
    for t, wait, name in zip(tabs, waits, names):
        (result.on_victim if name == victim else result.others).append(wait)
        url_now = re.sub(r"&?step=\d+", "", t.session.query)
        if url_now != re.sub(r"&?step=\d+", "", t.url_before):
            result.url_lost += 1
    restart_s = await asyncio.to_thread(server.wait_serving, victim, old_pid)
    for t in tabs:
        moved_to = t.session.session_id
        await t.session.reconnect()
        await t.click()
        if t.session.session_id != moved_to:
            result.moved_back += 1
        await t.session.close()
    print(f"  {fault}: {len(result.on_victim)} of {students} students on {victim}; replica "
          f"serving again {restart_s:.1f} s after it was found down; load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    return result


def stats(values: list[float]) -> str:
    if not values:
        return "- | - | -"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(values):.2f} | {p95:.2f} | {max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="of each fault")
    parser.add_argument("--faults", nargs="+", default=list(FAULTS), choices=list(FAULTS))
    parser.add_argument("--interval", type=float, default=3.0)
    args = parser.parse_args()
    print(f"# {platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"{args.students} students, {args.replicas} replicas, load average "
          f"{os.getloadavg()[0]:.1f} at the start", flush=True)
    server = Server(args.replicas)
    rounds = []
    try:
        for r in range(args.rounds):
            for fault in args.faults:
                rounds.append(asyncio.run(fault_round(server, fault, args.students,
                                                      args.interval, r)))
    finally:
        server.stop()
    print("\n| fault | students on it | downtime p50 s | p95 s | max s | others' first click "
          "p50 s | p95 s | max s | URL state lost | moved back | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for fault in args.faults:
        mine = [r for r in rounds if r.fault == fault]
        on = [v for r in mine for v in r.on_victim]
        others = [v for r in mine for v in r.others]
        print(f"| {fault} ({len(mine)} rounds) | {len(on)} | {stats(on)} | {stats(others)} | "
              f"{sum(r.url_lost for r in mine)} | {sum(r.moved_back for r in mine)} | "
              f"{sum(len(r.errors) for r in mine)} |")
        for r in mine:
            for e in r.errors[:3]:
                print(f"  error ({fault}): {e}")
    print("\nper-student downtime (s), each round:")
    for r in rounds:
        print(f"  {r.fault} {r.victim}: " + " ".join(f"{v:.2f}" for v in sorted(r.on_victim)))


if __name__ == "__main__":
    main()
