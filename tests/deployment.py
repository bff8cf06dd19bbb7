"""deploy/serve.py for the tests: nginx in front of two Streamlit replicas on loopback (and the
redis-server serve.py starts for live classes), its URL, work directory, replicas and nginx's
access log.  Shared by tests/test_deploy.py and the live class's browser test across replicas.

Without nginx these tests skip with the reason; with ``CONVCORE_REQUIRE_NGINX=1`` (set by
``.ci/run``) they fail instead, so CI cannot pass without running them.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from deploy import serve  # noqa: E402

REQUIRE_NGINX = os.environ.get("CONVCORE_REQUIRE_NGINX") == "1"
READY_TIMEOUT_S = 180


REQUIRE_REDIS = os.environ.get("CONVCORE_REQUIRE_REDIS") == "1"


def redis_or_skip() -> str:
    """The redis-server serve.py would start for live classes across replicas (as
    tests/conftest.py's probe: skips without it, fails when CONVCORE_REQUIRE_REDIS=1)."""
    path = serve.find_redis()
    if path is None:
        reason = "no redis-server executable; install it with `apt-get install redis-server`"
        if REQUIRE_REDIS:
            pytest.fail(f"Redis tests cannot run: {reason} (CONVCORE_REQUIRE_REDIS=1 requires "
                        "them)", pytrace=False)
        pytest.skip(f"Redis tests skipped: {reason}")
    return path


def nginx_or_skip() -> str:
    path = serve.find_nginx()
    if path is None:
        reason = ("no nginx executable (looked at $CONVCORE_NGINX, PATH and /usr/sbin/nginx); "
                  "install it with `apt-get install nginx`")
        if REQUIRE_NGINX:
            pytest.fail(f"deployment tests cannot run: {reason} (CONVCORE_REQUIRE_NGINX=1 "
                        "requires them)", pytrace=False)
        pytest.skip(f"deployment tests skipped: {reason}")
    return path


class Classroom:
    """deploy/serve.py with two replicas on loopback: its URL, work directory and output."""

    def __init__(self, workdir: Path, redis: bool = True):
        self.workdir = workdir
        self.redis = redis  # a redis-server started by serve.py for the live classes
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "deploy" / "serve.py"), "--replicas", "2",
             "--host", "127.0.0.1", "--port", str(serve.free_port()), "--first-port", "0",
             "--workdir", str(workdir), *([] if redis else ["--no-redis"])],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        ready: queue.Queue = queue.Queue()

        def read() -> None:
            for line in self.process.stdout:
                self.lines.append(line)
                if line.startswith("READY "):
                    ready.put(line.split()[1])
        threading.Thread(target=read, daemon=True).start()
        try:
            self.url = ready.get(timeout=READY_TIMEOUT_S)
        except queue.Empty:
            self.process.kill()
            pytest.fail(f"deploy/serve.py not ready after {READY_TIMEOUT_S} s: {self.lines}")

    def replicas(self) -> dict[str, dict]:
        """Cookie name -> {port, pid}, from serve.py's replicas.json."""
        rows = json.loads((self.workdir / "replicas.json").read_text())
        return {r["name"]: r for r in rows}

    def wait_serving(self, name: str, old_pid: int, timeout: float = READY_TIMEOUT_S) -> None:
        """Until replica ``name`` runs in a new process that answers its health check, and
        nginx sends it its students again (it leaves a replica that failed a request out for
        ``serve.FAIL_TIMEOUT`` after that failure: a browser whose cookie names it meanwhile is
        moved to another)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = self.replicas()[name]
            if row["pid"] != old_pid and serve.healthy(row["port"], timeout=1):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"replica {name} not back after {timeout} s: {''.join(self.lines)}")
        while time.monotonic() < deadline:
            if self.routes_to(name):
                return
            time.sleep(0.2)
        pytest.fail(f"nginx does not route to replica {name} after {timeout} s")

    def routes_to(self, name: str) -> bool:
        """Whether nginx serves a browser whose cookie names replica ``name`` from it (it
        rewrites the cookie when another replica answered)."""
        request = urllib.request.Request(f"{self.url}/_stcore/health",
                                         headers={"Cookie": f"{serve.COOKIE}={name}"})
        try:
            with urllib.request.urlopen(request, timeout=2) as answer:
                cookies = answer.headers.get_all("Set-Cookie") or []
                return answer.status == 200 and not any(c.startswith(f"{serve.COOKIE}=")
                                                        for c in cookies)
        except OSError:
            return False

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(60) == 0


def access_log(workdir: Path) -> list[dict]:
    """nginx's log lines: request, upstream (the servers tried), sticky (the cookie sent) and
    served_by (the replica that answered)."""
    pattern = re.compile(r'"(?P<request>[^"]*)" (?P<status>\d+) \d+ upstream=(?P<upstream>.*?) '
                         r"sticky=(?P<sticky>\S+) served_by=(?P<served_by>\S*) ")
    return [m.groupdict() for m in pattern.finditer((workdir / "logs" / "access.log").read_text())]
