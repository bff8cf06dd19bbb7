"""Serve the Convolution Explorer to a class: N Streamlit replicas behind nginx, on one
machine, as an ordinary user.

    python deploy/serve.py                      # one replica per core, http://0.0.0.0:8080
    python deploy/serve.py --replicas 2 --port 8090 --host 127.0.0.1

Starts the replicas on loopback ports, waits until each answers ``/_stcore/health``, writes
``nginx.conf`` from ``deploy/nginx.conf.template`` into a work directory (pid file, logs and
nginx's temporary files live there too), starts Debian's nginx on it and prints one line,
``READY <url> <workdir>``.  Then it watches: a replica that exits or stops answering its
health check is restarted (nginx routes its users elsewhere meanwhile).  Ctrl-C or SIGTERM
stops everything.  The replicas share one cookie secret, so a browser's XSRF cookie is valid
on all of them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).with_name("nginx.conf.template")
COOKIE = "convexplorer_replica"
MAX_UPLOAD_MB = 16  # app.sources.MAX_UPLOAD_BYTES, in Streamlit's unit
HEALTH_TIMEOUT_S = 120
WATCH_EVERY_S = 5
UNHEALTHY_CHECKS = 3  # failed health checks in a row before a replica is restarted


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


def healthy(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/_stcore/health", timeout=3) as r:
            return r.status == 200
    except OSError:
        return False


def nginx_config(workdir: Path, listen: str, ports: list[int], max_body_mb: int) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;"
                        for p in ports)
    fields = {"@WORKDIR@": str(workdir), "@LISTEN@": listen, "@SERVERS@": servers,
              "@MAX_BODY@": f"{max_body_mb + 1}m", "@COOKIE@": COOKIE}
    text = TEMPLATE.read_text()
    for name, value in fields.items():
        text = text.replace(name, value)
    return text


class Replica:
    """One ``streamlit run`` of the app on a loopback port, logging to the work directory."""

    def __init__(self, port: int, app: Path, workdir: Path, cookie_secret: str):
        self.port, self.app, self.workdir, self.secret = port, app, workdir, cookie_secret
        self.process: subprocess.Popen | None = None
        self.failed_checks = 0

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
            env={"OPENBLAS_NUM_THREADS": "1", **os.environ,
                 "STREAMLIT_SERVER_COOKIE_SECRET": self.secret})
        log.close()
        self.failed_checks = 0

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
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


def watch(replicas: list[Replica], nginx: subprocess.Popen) -> None:
    """Restart replicas that exit or fail their health check; return when nginx exits."""
    while nginx.poll() is None:
        time.sleep(WATCH_EVERY_S)
        for r in replicas:
            if r.process.poll() is not None:
                print(f"replica {r.port} exited ({r.process.returncode}); restarting", flush=True)
                r.start()
            elif healthy(r.port):
                r.failed_checks = 0
            else:
                r.failed_checks += 1
                if r.failed_checks >= UNHEALTHY_CHECKS:
                    print(f"replica {r.port} failed {r.failed_checks} health checks; "
                          "restarting", flush=True)
                    r.stop()
                    r.start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=os.cpu_count() or 1,
                        help="Streamlit processes (default: one per core)")
    parser.add_argument("--host", default="0.0.0.0", help="address nginx listens on")
    parser.add_argument("--port", type=int, default=8080, help="port nginx listens on")
    parser.add_argument("--first-port", type=int, default=8601,
                        help="loopback port of the first replica, the others follow; 0 picks "
                             "free ports")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="config, pid file and logs (default: a new temporary directory)")
    parser.add_argument("--app", type=Path, default=ROOT / "app" / "streamlit_app.py")
    parser.add_argument("--nginx", default=None, help="the nginx executable")
    args = parser.parse_args(argv)

    nginx_bin = args.nginx or find_nginx()
    if nginx_bin is None:
        parser.error("nginx not found: install it (apt-get install nginx) or pass --nginx")
    if args.replicas < 1:
        parser.error(f"--replicas must be at least 1, got {args.replicas}")
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="convexplorer-"))).resolve()
    for sub in ("logs", "tmp"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    ports = ([free_port() for _ in range(args.replicas)] if args.first_port == 0
             else list(range(args.first_port, args.first_port + args.replicas)))
    secret = secrets.token_hex(32)
    replicas = [Replica(p, args.app.resolve(), workdir, secret) for p in ports]
    nginx = None

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
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
        watch(replicas, nginx)
        return 1  # nginx exited on its own
    except KeyboardInterrupt:
        return 0
    finally:
        if nginx is not None and nginx.poll() is None:
            nginx.send_signal(signal.SIGQUIT)  # graceful: finish the requests in flight
            with contextlib.suppress(subprocess.TimeoutExpired):
                nginx.wait(10)
            if nginx.poll() is None:
                nginx.kill()
        for r in replicas:
            r.stop()


if __name__ == "__main__":
    sys.exit(main())
