"""Serve the Convolution Explorer to a class: N Streamlit replicas behind nginx, on one
machine, as an ordinary user.

    python deploy/serve.py                      # one replica per usable core, :8080
    python deploy/serve.py --replicas 2 --port 8090 --host 127.0.0.1

Starts the replicas on loopback ports, waits until each answers ``/_stcore/health``, writes
``nginx.conf`` from ``deploy/nginx.conf.template`` into a work directory (pid file, logs and
nginx's temporary files live there too), starts Debian's nginx on it and prints one line,
``READY <url> <workdir>``.  Then it watches every replica: one that exits is restarted at
once; one that misses :data:`HUNG_AFTER` health checks in a row (each :data:`PROBE_TIMEOUT_S`,
every :data:`PROBE_EVERY_S`) without using any CPU meanwhile is hung (stopped or deadlocked:
it still accepts connections, so nginx cannot tell), and one that misses them for
:data:`UNRESPONSIVE_S` is lost all the same: either is killed, which closes its websockets so
that its students' browsers reconnect through nginx to another replica, and restarted.  (A
replica busy with a full core answers slowly: killing it would cost its students their
sessions, so it gets the longer time.)  Ctrl-C or SIGTERM stops everything.  The replicas
share one cookie secret, so a browser's XSRF cookie is valid on all of them.

A live class (app/live) must reach students on every replica: with two replicas or more,
serve.py starts Debian's ``redis-server`` on a free loopback port (no persistence: a class
lives for a lesson), checks it answers PING, and gives the replicas its URL
(``CONVCORE_REDIS_URL``); a Redis that exits is restarted (its classes are lost; the pages say
so).  ``--redis-url`` uses a Redis of your own instead; ``--no-redis`` serves without one (each
replica's classes then reach only its own browsers).  One replica needs no Redis.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).with_name("nginx.conf.template")
COOKIE = "convexplorer_replica"
MAX_UPLOAD_MB = 16  # app.sources.MAX_UPLOAD_BYTES, in Streamlit's unit
HEALTH_TIMEOUT_S = 120  # a replica's start, until its first answered health check
PROBE_EVERY_S = 0.5
PROBE_TIMEOUT_S = 0.5  # an idle replica answers in milliseconds; a busy one is judged by its CPU
HUNG_AFTER = 2  # missed checks in a row, no CPU used meanwhile: hung (found <= 2 x (0.5 + 0.5) s)
IDLE_CPU_S = 0.02  # "no CPU": a stopped or deadlocked process uses none
UNRESPONSIVE_S = 20.0  # missed health checks for this long, CPU or not: killed all the same
SLOW_PROBE_S = 0.25  # health checks slower than this are logged
FAIL_TIMEOUT = "2s"  # nginx leaves a failed replica out this long before trying it again


REDIS_START_S = 10  # redis-server answers PING within milliseconds of starting


def find_redis() -> str | None:
    """``$CONVCORE_REDIS_SERVER``, redis-server on PATH, or Debian's /usr/bin/redis-server."""
    for candidate in (os.environ.get("CONVCORE_REDIS_SERVER"), shutil.which("redis-server"),
                      "/usr/bin/redis-server"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def redis_answers(url: str) -> bool:
    """Whether the Redis at ``url`` answers PING within a second."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False


class RedisServer:
    """``redis-server`` on a loopback port for the replicas' live classes, without
    persistence, logging to the work directory."""

    def __init__(self, exe: str, port: int, workdir: Path):
        self.exe, self.port, self.workdir = exe, port, workdir
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        data = self.workdir / "redis"
        data.mkdir(exist_ok=True)
        self.process = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(data),
             "--logfile", str(self.workdir / "logs" / "redis.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + REDIS_START_S
        while not redis_answers(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"redis-server did not answer on port {self.port}; see "
                                 f"{self.workdir / 'logs' / 'redis.log'}")
            time.sleep(0.05)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen | None, grace_s: float = 10) -> None:
    """SIGTERM, then SIGKILL after ``grace_s``; nothing when it is not running."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def find_nginx() -> str | None:
    """``$CONVCORE_NGINX``, nginx on PATH, or Debian's /usr/sbin/nginx (not on a user's PATH)."""
    for candidate in (os.environ.get("CONVCORE_NGINX"), shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def usable_cores() -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup (v2) CPU quota
    (a container's ``--cpus``)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    with contextlib.suppress(OSError, ValueError):
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    return max(1, cores)


def replica_count(text: str) -> int:
    """``--replicas``: a positive number, or ``auto`` (one per usable core)."""
    if text == "auto":
        return usable_cores()
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def healthy(port: int, host: str = "127.0.0.1", timeout: float = 3) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/_stcore/health",
                                    timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def replica_id(index: int) -> str:
    """The name the sticky cookie gives the replica in slot ``index`` (from 0): r1, r2, ..."""
    return f"r{index + 1}"


def nginx_config(workdir: Path, listen: str, ports: list[int], max_body_mb: int) -> str:
    """``nginx.conf`` for replicas on loopback ``ports``: one upstream of all of them for new
    browsers (fewest connections first), and one per replica, where the others are backups, for
    the browsers its cookie names."""
    def server(port: int, backup: bool = False) -> str:
        tail = " backup" if backup else f" max_fails=1 fail_timeout={FAIL_TIMEOUT}"
        return f"        server 127.0.0.1:{port}{tail};"

    blocks = ["    upstream replicas {\n        least_conn;\n"
              + "\n".join(server(p) for p in ports) + "\n        keepalive 32;\n    }"]
    for i, port in enumerate(ports):
        others = [server(p, backup=True) for p in ports if p != port]
        blocks.append(f"    upstream replica_{replica_id(i)} {{\n" + "\n".join(
            [server(port), *others]) + "\n        keepalive 8;\n    }")
    routes = "\n".join(f"        {replica_id(i)} replica_{replica_id(i)};"
                        for i in range(len(ports)))
    served_by = "\n".join(f'        "~(^|, )127\\.0\\.0\\.1:{p}$" {replica_id(i)};'
                          for i, p in enumerate(ports))
    fields = {"@WORKDIR@": str(workdir), "@LISTEN@": listen, "@UPSTREAMS@": "\n".join(blocks),
              "@ROUTES@": routes, "@SERVED_BY@": served_by,
              "@MAX_BODY@": f"{max_body_mb + 1}m", "@COOKIE@": COOKIE}
    text = TEMPLATE.read_text()
    for name, value in fields.items():
        text = text.replace(name, value)
    return text


class Replica:
    """One ``streamlit run`` of the app on a loopback port, logging to the work directory;
    ``name`` is what nginx's sticky cookie calls it."""

    def __init__(self, port: int, app: Path, workdir: Path, cookie_secret: str,
                 name: str = "", env: dict[str, str] | None = None):
        self.port, self.app, self.workdir, self.secret = port, app, workdir, cookie_secret
        self.name = name
        self.env = env or {}  # e.g. CONVCORE_REDIS_URL
        self.process: subprocess.Popen | None = None
        self.on_start = None  # called after each (re)start

    def start(self) -> None:
        log = open(self.workdir / "logs" / f"replica-{self.port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(self.app),
             "--server.address", "127.0.0.1", "--server.port", str(self.port),
             "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none", "--server.runOnSave", "false",
             "--server.maxUploadSize", str(MAX_UPLOAD_MB)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            # one BLAS thread per replica (unless the caller chose): replicas already take
            # one core each, and OpenBLAS's idle threads spin for a while after each call
            env={"OPENBLAS_NUM_THREADS": "1", **os.environ, **self.env,
                 "STREAMLIT_SERVER_COOKIE_SECRET": self.secret})
        log.close()
        if self.on_start:
            self.on_start()

    def stop(self) -> None:
        stop_process(self.process)

    def cpu_seconds(self) -> float:
        """CPU time the process has used (user + system; from /proc, 0 where there is none)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError, AttributeError):
            return 0.0

    def kill(self) -> None:
        """SIGKILL: a stopped or hung process handles no SIGTERM."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def wait_healthy(replicas: list[Replica], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(replicas)
    while waiting:
        for r in list(waiting):
            if r.process.poll() is not None:
                raise SystemExit(f"replica on port {r.port} exited with {r.process.returncode}; "
                                 f"see {r.workdir / 'logs' / f'replica-{r.port}.log'}")
            if healthy(r.port):
                waiting.remove(r)
        if waiting and time.monotonic() > deadline:
            raise SystemExit(f"replicas on ports {[r.port for r in waiting]} not healthy after "
                             f"{timeout:.0f} s")
        time.sleep(0.2)


def write_replicas_file(workdir: Path, replicas: list[Replica]) -> None:
    """``WORKDIR/replicas.json``: each replica's cookie name, port and process id (rewritten
    after every restart), for operators and the fault-injection tests."""
    rows = [{"name": r.name, "port": r.port, "pid": r.process.pid if r.process else None}
            for r in replicas]
    tmp = workdir / "replicas.json.tmp"
    tmp.write_text(json.dumps(rows))
    os.replace(tmp, workdir / "replicas.json")


def log(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


def verdict(missed: int, cpu_used: float, silent_s: float) -> str | None:
    """Why a replica that missed ``missed`` health checks in a row, over ``silent_s`` seconds
    in which it used ``cpu_used`` seconds of CPU, must be killed; None while it may live.

    One that misses its checks while it computes is busy (a saturated core: its event loop
    waits for the GIL); one that uses no CPU meanwhile is stopped or deadlocked: that one is
    hung and killed at once, a busy one only after :data:`UNRESPONSIVE_S`.

    >>> verdict(2, 0.0, 2.0)
    'used 0.00 s of CPU meanwhile: hung'
    >>> verdict(2, 0.8, 2.0) is None  # busy: its students still get answers, late
    True
    >>> verdict(30, 9.5, 20.5)
    'busy (9.5 s of CPU) but unresponsive'
    """
    if missed >= HUNG_AFTER and cpu_used < IDLE_CPU_S:
        return f"used {cpu_used:.2f} s of CPU meanwhile: hung"
    if silent_s >= UNRESPONSIVE_S:
        return f"busy ({cpu_used:.1f} s of CPU) but unresponsive"
    return None


def watch(replica: Replica, stopping: threading.Event) -> None:
    """Keep one replica serving until ``stopping`` is set: restart it when it exits; kill and
    restart it when it misses its health checks and :func:`verdict` says it is lost."""
    starting_since, missed = None, 0  # the replica starts healthy (main waited for it)
    missing_since, cpu_then = 0.0, 0.0
    while not stopping.wait(PROBE_EVERY_S):
        if replica.process.poll() is not None:
            log(f"replica {replica.port} exited ({replica.process.returncode}); restarting")
            replica.start()
            starting_since, missed = time.monotonic(), 0
            continue
        cpu, began = replica.cpu_seconds(), time.monotonic()
        ok = healthy(replica.port, timeout=PROBE_TIMEOUT_S)
        took = time.monotonic() - began
        if starting_since is not None:  # a restart: wait for its first answer, within limits
            if ok:
                log(f"replica {replica.port} serving again "
                    f"({time.monotonic() - starting_since:.1f} s after its restart)")
                starting_since = None
            elif time.monotonic() - starting_since > HEALTH_TIMEOUT_S:
                log(f"replica {replica.port} not healthy {HEALTH_TIMEOUT_S} s after its "
                    "restart; killing it")
                replica.kill()
            continue
        if ok and took > SLOW_PROBE_S:
            log(f"replica {replica.port} slow health check: {took:.2f} s")
        if ok:
            missed = 0
            continue
        if missed == 0:
            missing_since, cpu_then = began, cpu
        missed += 1
        used = replica.cpu_seconds() - cpu_then
        silent = time.monotonic() - missing_since
        why = verdict(missed, used, silent)
        if why is None and missed == HUNG_AFTER:  # once per streak: busy, kept
            log(f"replica {replica.port} missed {missed} health checks of {PROBE_TIMEOUT_S:g} s "
                f"but used {used:.2f} s of CPU meanwhile: busy, kept")
        if why is None or stopping.is_set():
            continue
        log(f"replica {replica.port} missed {missed} health checks of {PROBE_TIMEOUT_S:g} s "
            f"in {silent:.1f} s and {why}; killing it (its browsers reconnect to another "
            "replica)")
        replica.kill()  # the next round restarts it


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=replica_count, default="auto",
                        help="Streamlit processes: a number, or auto (the default): one per "
                             "core this process may use (CPU affinity and cgroup quota)")
    parser.add_argument("--host", default="0.0.0.0", help="address nginx listens on")
    parser.add_argument("--port", type=int, default=8080, help="port nginx listens on")
    parser.add_argument("--first-port", type=int, default=8601,
                        help="loopback port of the first replica, the others follow; 0 picks "
                             "free ports")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="config, pid file and logs (default: a new temporary directory)")
    parser.add_argument("--app", type=Path, default=ROOT / "app" / "streamlit_app.py")
    parser.add_argument("--nginx", default=None, help="the nginx executable")
    redis_choice = parser.add_mutually_exclusive_group()
    redis_choice.add_argument("--redis-url", default=None,
                              help="a Redis of your own for the live classes (redis://...); "
                                   "default with 2+ replicas: a redis-server started here")
    redis_choice.add_argument("--no-redis", action="store_true",
                              help="no Redis: a live class then reaches only the browsers on "
                                   "its teacher's replica")
    args = parser.parse_args(argv)

    nginx_bin = args.nginx or find_nginx()
    if nginx_bin is None:
        parser.error("nginx not found: install it (apt-get install nginx) or pass --nginx")
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="convexplorer-"))).resolve()
    for sub in ("logs", "tmp"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    ports = ([free_port() for _ in range(args.replicas)] if args.first_port == 0
             else list(range(args.first_port, args.first_port + args.replicas)))
    redis_server = None
    redis_url = args.redis_url
    if redis_url is None and not args.no_redis and args.replicas > 1:
        exe = find_redis()
        if exe is None:
            parser.error("with 2 or more replicas a live class needs Redis: install it "
                         "(apt-get install redis-server), pass --redis-url, or --no-redis")
        redis_server = RedisServer(exe, free_port(), workdir)
    env = {"CONVCORE_REDIS_URL": redis_url or redis_server.url} if (
        redis_url or redis_server) else {}
    secret = secrets.token_hex(32)
    replicas = [Replica(p, args.app.resolve(), workdir, secret, replica_id(i), env)
                for i, p in enumerate(ports)]
    lock = threading.Lock()

    def record() -> None:
        with lock:
            write_replicas_file(workdir, replicas)

    for r in replicas:
        r.on_start = record
    nginx = None
    stopping = threading.Event()
    watchers: list[threading.Thread] = []

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        if redis_server is not None:
            redis_server.start()
        elif redis_url and not redis_answers(redis_url):
            raise SystemExit(f"no answer to PING from --redis-url {redis_url}")
        for r in replicas:
            r.start()
        wait_healthy(replicas, HEALTH_TIMEOUT_S)
        conf = workdir / "nginx.conf"
        conf.write_text(nginx_config(workdir, f"{args.host}:{args.port}", ports, MAX_UPLOAD_MB))
        command = [nginx_bin, "-p", str(workdir), "-c", str(conf),
                   "-e", str(workdir / "logs" / "nginx-error.log")]
        subprocess.run([*command, "-t", "-q"], check=True)
        nginx = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        shown = "127.0.0.1" if args.host == "0.0.0.0" else args.host
        deadline = time.monotonic() + 30
        while not healthy(args.port, shown):
            if nginx.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"nginx did not come up; see {workdir / 'logs'}")
            time.sleep(0.1)
        print(f"READY http://{shown}:{args.port} {workdir}", flush=True)
        print(f"{len(replicas)} replicas on ports {', '.join(map(str, ports))}; logs in "
              f"{workdir / 'logs'}; Ctrl-C stops", flush=True)
        if env:
            print(f"live classes shared through Redis at {env['CONVCORE_REDIS_URL']}", flush=True)
        watchers = [threading.Thread(target=watch, args=(r, stopping), daemon=True,
                                     name=f"watch-{r.port}") for r in replicas]
        for w in watchers:
            w.start()
        while nginx.poll() is None:
            time.sleep(0.5)
            if redis_server is not None and not redis_server.alive():
                log(f"redis-server on port {redis_server.port} exited; restarting it "
                    "(the classes it held are gone)")
                redis_server.start()
        return 1  # nginx exited on its own
    except KeyboardInterrupt:
        return 0
    finally:
        stopping.set()
        for w in watchers:
            w.join(PROBE_TIMEOUT_S + 5)
        if nginx is not None and nginx.poll() is None:
            nginx.send_signal(signal.SIGQUIT)  # graceful: finish the requests in flight
            with contextlib.suppress(subprocess.TimeoutExpired):
                nginx.wait(10)
            if nginx.poll() is None:
                nginx.kill()
        for r in replicas:
            r.stop()
        if redis_server is not None:
            redis_server.stop()


if __name__ == "__main__":
    sys.exit(main())
