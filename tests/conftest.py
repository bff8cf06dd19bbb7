"""Shared fixtures: the array backend ``xp``, the hypothesis profiles and a Redis server."""

import asyncio
import contextlib
import functools
import os
import shutil
import socket
import subprocess
import time

import pytest
import streamlit.components.v2.manifest_scanner as manifest_scanner
from hypothesis import HealthCheck, settings

import convcore as cc
from convcore.backend import cupy_unavailable_reason, xp_by_name

# "ci" (default): the same cases every run, nothing written to disk.  HYPOTHESIS_PROFILE=dev
# explores new cases on each run.
settings.register_profile(
    "ci", deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Every AppTest run scans all installed distributions for Streamlit component manifests (57 ms
# here, 442 runs in the suite: 25 s); what is installed does not change while the tests run,
# so the suite scans once.  (The app declares its components with st.components.v2.component;
# this scan finds none of them.)
manifest_scanner.scan_component_manifests = functools.cache(
    manifest_scanner.scan_component_manifests)


@pytest.fixture(params=["numpy", "cupy"])
def xp(request):
    """The array module of each backend that can run here; CuPy cases skip without a GPU."""
    if request.param not in cc.available_backends():
        pytest.skip(f"CuPy cannot run here: {cupy_unavailable_reason()}")
    return xp_by_name(request.param)


# ------------------------------------------------------------------------------ Redis
# The live class's Redis broker is tested against a real redis-server (Debian's package),
# started here on a free port.  Without one the Redis cases skip with the reason; with
# ``CONVCORE_REQUIRE_REDIS=1`` (set by ``.ci/run``) they fail instead, so CI cannot skip them.

class RedisProbe:
    """Finds Debian's redis-server; skips, or fails when it is required and missing."""

    require = os.environ.get("CONVCORE_REQUIRE_REDIS") == "1"

    @staticmethod
    def find() -> str | None:
        return shutil.which("redis-server") or next(
            (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server")
             if os.access(p, os.X_OK)), None)

    def or_skip(self) -> str:
        path = self.find()
        if path is None:
            reason = "no redis-server executable; install it with `apt-get install redis-server`"
            if self.require:
                pytest.fail(f"Redis tests cannot run: {reason} (CONVCORE_REQUIRE_REDIS=1 "
                            "requires them)", pytrace=False)
            pytest.skip(f"Redis tests skipped: {reason}")
        return path


REDIS = RedisProbe()


@pytest.fixture
def redis_probe() -> RedisProbe:
    return REDIS


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """``redis://127.0.0.1:PORT/0`` of a redis-server started for this test session."""
    exe = REDIS.or_skip()
    workdir = tmp_path_factory.mktemp("redis")
    for _ in range(3):  # the free port may be taken between choosing and binding it
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        process = subprocess.Popen(
            [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "no", "--dir", str(workdir), "--logfile", str(workdir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline:
            if _redis_answers(port):
                yield f"redis://127.0.0.1:{port}/0"
                process.terminate()
                process.wait(10)
                return
            time.sleep(0.05)
        process.kill()
        process.wait(10)
    pytest.fail(f"redis-server did not start: {(workdir / 'redis.log').read_text()[-500:]}")


@pytest.fixture(params=["memory", "redis"])
def make_broker(request):
    """Builds the live class's broker of each kind: the in-process one, and Redis (a prefix of
    its own per test; two brokers built by one test share it, like two replicas)."""
    if request.param == "memory":
        from app.live.broker import MemoryBroker

        shared = MemoryBroker()
        return lambda: shared
    from app.live.redis_broker import RedisBroker

    url = request.getfixturevalue("redis_url")
    prefix = f"t{os.getpid()}x{time.monotonic_ns()}"
    return lambda: RedisBroker(url, prefix=prefix)


def build_live_app(make_broker, limits):
    """A Starlette app of the live class's routes over brokers from ``make_broker``: one
    Classroom per event loop (as in production), its broker closed at shutdown."""
    from starlette.applications import Starlette

    from app.live import routes
    from app.live.classroom import Classroom

    rooms: dict = {}

    def classroom():
        loop = asyncio.get_running_loop()
        if loop not in rooms:
            rooms[loop] = Classroom(make_broker(), limits)
        return rooms[loop]

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        for room in rooms.values():
            await room.broker.aclose()

    return Starlette(routes=routes.live_routes(classroom), lifespan=lifespan)


@pytest.fixture
def live_app():
    """:func:`build_live_app`: ``live_app(make_broker, limits)``."""
    return build_live_app
