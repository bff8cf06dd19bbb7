"""A live class under load: a teacher drives, N simulated students follow the event stream.

Each student is an :class:`app.live.client.Follower` (what the browser's EventSource does:
state first, patches in order, reconnect after ``retry:``) in this process; the server runs
in its own process(es), serving the live routes (``app.live.routes.ROUTES``) with uvicorn.

The teacher makes ``--actions`` view changes (step, a pinned cell every third, Play on/off,
a lever every tenth) ``--interval`` apart, then asks a question that every student answers
(a third of them change their mind once) and reveals it.  Measured:

- per action: time from the teacher's POST leaving until the *last* student has the new
  version (p50/p95/max) — "teacher action → every student's view updated";
- per delivery: the same for each student apart;
- reference (same run): the teacher's POST round trip; ratios are against its median;
- lost updates: versions some student never received (must be 0), gaps (must be 0);
- answers: the reveal's count and histogram against what the students sent (must be exact).

Setups (``--setups``, a table entry each):

- ``one``: one process of the live routes alone on uvicorn, the in-process broker;
- ``app``: one ``streamlit run`` of the whole app (the embedded default a teacher starts: the
  routes mounted in ``st.App`` beside the pages, the in-process broker);
- ``one-redis``: one process, the Redis broker (a redis-server started here);
- ``replicas-redis``: two processes sharing Redis, students split between them (no nginx);
- ``deploy``: deploy/serve.py — nginx in front of two Streamlit replicas of the whole app and
  the redis-server serve.py starts; the teacher and the students split between the replicas by
  nginx's sticky cookie (the teacher on r1, students alternately on r1 and r2), every request
  and stream through nginx.

    python benchmarks/bench_live_class.py                       # 30 and 100 students, "one"
    python benchmarks/bench_live_class.py --setups one,one-redis,replicas-redis --students 30
    python benchmarks/bench_live_class.py --setups deploy --students 100
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402

from app.live.client import Follower, Teacher, join  # noqa: E402

TARGET_P95_S = 0.250
PIDS: dict[str, list[int]] = {"server": [], "redis": []}  # of the running setup, for CPU time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(port: int) -> None:
    """The server process: the live routes on uvicorn (broker from CONVCORE_REDIS_URL)."""
    import uvicorn
    from starlette.applications import Starlette

    from app.live.routes import ROUTES

    uvicorn.run(Starlette(routes=ROUTES), host="127.0.0.1", port=port, log_level="warning")


# ------------------------------------------------------------------------------ setups

@contextlib.contextmanager
def redis_server():
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", tmp],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        PIDS["redis"] = [proc.pid]
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            PIDS["redis"] = []
            proc.terminate()
            proc.wait(10)


@contextlib.contextmanager
def servers(count: int, redis_url: str | None):
    env = {k: v for k, v in os.environ.items() if k != "CONVCORE_REDIS_URL"}
    if redis_url:
        env["CONVCORE_REDIS_URL"] = redis_url
    ports = [free_port() for _ in range(count)]
    procs = [subprocess.Popen([sys.executable, __file__, "--serve", str(p)], env=env, cwd=ROOT)
             for p in ports]
    PIDS["server"] = [p.pid for p in procs]
    try:
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        deadline = time.monotonic() + 30
        for url in urls:
            while True:
                with contextlib.suppress(httpx2.TransportError):
                    if httpx2.get(f"{url}/api/v1/classes/222-222-222").status_code == 404:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server at {url} did not start")
                time.sleep(0.1)
        yield [{"base_url": url} for url in urls]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(70)  # streams live up to 60 s; SIGTERM waits for them


@contextlib.contextmanager
def one():
    with servers(1, None) as urls:
        yield urls


@contextlib.contextmanager
def app():
    """``streamlit run app/streamlit_app.py`` on a free port, without Redis."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "CONVCORE_REDIS_URL"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "streamlit_app.py"),
         "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port",
         str(port), "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    PIDS["server"] = [proc.pid]
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            with contextlib.suppress(httpx2.TransportError):
                if httpx2.get(f"{url}/_stcore/health").status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the app did not start")
            time.sleep(0.2)
        yield [{"base_url": url}]
    finally:
        PIDS["server"] = []
        proc.terminate()
        proc.wait(70)


@contextlib.contextmanager
def one_redis():
    with redis_server() as url, servers(1, url) as urls:
        yield urls


@contextlib.contextmanager
def replicas_redis():
    with redis_server() as url, servers(2, url) as urls:
        yield urls


@contextlib.contextmanager
def deploy():
    """deploy/serve.py with two replicas (and its redis-server) on free ports."""
    from deploy import serve as deployment

    workdir = Path(tempfile.mkdtemp(prefix="bench-live-"))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "deploy" / "serve.py"), "--replicas", "2", "--host",
         "127.0.0.1", "--port", str(free_port()), "--first-port", "0", "--workdir",
         str(workdir)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("READY "):
                url = line.split()[1]
                break
        else:
            raise RuntimeError("deploy/serve.py exited before it was ready")
        rows = {r["name"]: r for r in json.loads((workdir / "replicas.json").read_text())}
        PIDS["server"] = [r["pid"] for r in rows.values()]
        yield [{"base_url": url, "cookies": {deployment.COOKIE: name}} for name in sorted(rows)]
    finally:
        PIDS["server"] = []
        proc.send_signal(signal.SIGTERM)
        proc.wait(90)
        shutil.rmtree(workdir, ignore_errors=True)


SETUPS = {"one": one, "app": app, "one-redis": one_redis, "replicas-redis": replicas_redis,
          "deploy": deploy}


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes so far (Linux /proc)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------ a class

def stats(values: list[float]) -> tuple[float, float, float]:
    p95 = statistics.quantiles(values, n=20)[18] if len(values) > 1 else values[0]
    return statistics.median(values), p95, max(values)


def action(i: int) -> dict:
    body: dict = {"action": "view", "step": i}
    if i % 3 == 0:
        body["pin"] = {"kind": "input", "m": 0, "p": [i % 7, i % 5]}
    if i % 8 == 4:
        body["playing"] = i % 16 == 4
    if i % 10 == 9:
        return {"action": "mode", "mode": ("free", "follow", "pause")[i // 10 % 3],
                "message": "eyes up"}
    return body


async def run_class(targets: list[dict], n: int, actions: int, interval: float,
                    seed: int) -> dict:
    """``targets``: each server (or replica) as httpx2.AsyncClient's arguments; the teacher on
    the first, the students in turns."""
    rng = random.Random(seed)
    limits = httpx2.Limits(max_connections=n + 20, max_keepalive_connections=n + 20)
    clients = [httpx2.AsyncClient(**t, limits=limits, timeout=30) for t in targets]
    try:
        teacher = await Teacher.start(clients[0])
        students = []
        for i in range(n):
            http = clients[i % len(clients)]
            students.append(Follower(http, teacher.code, student=await join(http, teacher.code)))
        tasks = [asyncio.create_task(s.run()) for s in students]
        await asyncio.gather(*(s.wait_for(lambda f: f.seq >= 0, 30) for s in students))
        await teacher.act(action="view", page="explorer_2d", query="stride=2&pad=1")
        rtts = []
        for i in range(actions):
            t0 = time.perf_counter()
            await teacher.act(**action(i))
            rtts.append(time.perf_counter() - t0)
            await asyncio.sleep(max(0.0, interval * rng.uniform(0.5, 1.5)))
        last = max(teacher.sent)
        await asyncio.gather(*(s.wait_for(lambda f: f.seq >= last, 30) for s in students))

        q = await teacher.act(action="ask", kind="shape", answer=[1, 2, 7, 7])
        sent: dict[str, str] = {}

        async def answer(s: Follower, value: str) -> None:
            r = await s.http.post(f"/api/v1/classes/{teacher.code}/answers", json={
                "student": s.params["student"], "question": q["question"], "value": value})
            r.raise_for_status()
            sent[s.params["student"]] = value

        await asyncio.gather(*(answer(s, rng.choice(["7x7", "8x8", "1x2x7x7"]))
                               for s in students))
        await asyncio.gather(*(answer(s, rng.choice(["7x7", "6x6"])) for s in students[::3]))
        result = (await teacher.act(action="reveal"))["result"]
        final = (await clients[0].get(f"/api/v1/classes/{teacher.code}")).json()
        await asyncio.gather(*(s.wait_for(lambda f: f.seq >= final["seq"], 30)
                               for s in students))
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for c in clients:
            await c.aclose()

    versions = [v for v in teacher.sent if v <= last]
    lost = sum(1 for s in students for v in versions if v not in s.received)
    per_delivery = [s.received[v] - teacher.sent[v] for s in students for v in versions
                    if v in s.received]
    per_action = [max(s.received.get(v, float("inf")) for s in students) - teacher.sent[v]
                  for v in versions]
    keys = {"7x7": "7×7", "8x8": "8×8", "1x2x7x7": "1×2×7×7", "6x6": "6×6"}
    expect: dict[str, int] = {}
    for value in sent.values():
        expect[keys[value]] = expect.get(keys[value], 0) + 1
    got = {b["value"]: b["count"] for b in result["histogram"]}
    return {"per_action": per_action, "per_delivery": per_delivery, "rtt": rtts,
            "lost": lost, "gaps": sum(s.gaps for s in students),
            "diverged": sum(1 for s in students if s.state != final["state"]),
            "answers_exact": got == expect and result["count"] == n,
            "reconnects": sum(s.connections - 1 for s in students)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--setups", default="one",
                        help=f"comma-separated, from {', '.join(SETUPS)} (default: one)")
    parser.add_argument("--students", default="30,100")
    parser.add_argument("--actions", type=int, default=60)
    parser.add_argument("--interval", type=float, default=0.2, help="s between actions")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} — {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}; Python {platform.python_version()}")
    print(f"# {args.actions} teacher actions ~{args.interval:g} s apart, then a question "
          "every student answers")
    print("| setup | students | action → all students p50 / p95 / max ms | per delivery "
          "p50 / p95 / max ms | POST round trip p50 ms (ref) | p95 / ref | lost | gaps | "
          "answers exact | reconnects | CPU s: server / Redis / students |")
    print("|---|---:|---|---|---:|---:|---:|---:|---|---:|---|")
    for setup in args.setups.split(","):
        with SETUPS[setup]() as targets:
            for n in (int(v) for v in args.students.split(",")):
                cpu0 = [cpu_seconds(PIDS["server"]), cpu_seconds(PIDS["redis"]),
                        time.process_time()]
                r = asyncio.run(run_class(targets, n, args.actions, args.interval, args.seed))
                cpu = [cpu_seconds(PIDS["server"]) - cpu0[0],
                       cpu_seconds(PIDS["redis"]) - cpu0[1], time.process_time() - cpu0[2]]
                a, d, ref = stats(r["per_action"]), stats(r["per_delivery"]), stats(r["rtt"])
                ms = lambda t: " / ".join(f"{1000 * v:.1f}" for v in t)  # noqa: E731
                print(f"| {setup} | {n} | {ms(a)} | {ms(d)} | {1000 * ref[0]:.1f} | "
                      f"{a[1] / ref[0]:.1f} | {r['lost']} | {r['gaps']} | "
                      f"{'yes' if r['answers_exact'] and not r['diverged'] else 'NO'} | "
                      f"{r['reconnects']} | {cpu[0]:.1f} / "
                      f"{f'{cpu[1]:.1f}' if PIDS['redis'] else '-'} / {cpu[2]:.1f} |",
                      flush=True)
                if a[1] > TARGET_P95_S:
                    print(f"  (p95 above the {1000 * TARGET_P95_S:.0f} ms target)")


if __name__ == "__main__":
    main()
