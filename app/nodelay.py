"""TCP_NODELAY for every connection the app's server accepts.

Streamlit 1.67 binds its listening socket itself, as ``socket.socket(family)`` — protocol 0,
so asyncio, which sets TCP_NODELAY only on sockets whose protocol is IPPROTO_TCP, leaves
Nagle's algorithm on for every accepted connection.  A small write after another on a
kept-alive connection then waits for the client's delayed ACK: ~40 ms per request (the scene
API's fetches, Streamlit's own ``/_stcore/health``, its websocket frames).

On Linux an accepted socket inherits TCP_NODELAY from the listening one, so setting it once on
the listener covers every connection.  The listener is bound before the ASGI lifespan starts
(``streamlit run`` and ``st.App``), so :func:`lifespan` finds it among this process's
descriptors by its port and sets the option there; nothing else changes.
"""

from __future__ import annotations

import contextlib
import os
import socket

from streamlit.logger import get_logger

_LOG = get_logger(__name__)  # Streamlit's: its format and level


def _descriptors() -> list[int]:
    for folder in ("/proc/self/fd", "/dev/fd"):
        with contextlib.suppress(OSError):
            return [int(name) for name in os.listdir(folder) if name.isdigit()]
    return []


def set_on_listeners(port: int) -> int:
    """Set TCP_NODELAY on this process's listening TCP sockets bound to ``port``; returns how
    many it found."""
    found = 0
    for fd in _descriptors():
        try:
            dup = os.dup(fd)
        except OSError:
            continue
        try:
            sock = socket.socket(fileno=dup)  # a duplicate: closing it leaves ``fd`` open
        except OSError:
            os.close(dup)
            continue
        with sock:
            try:
                if (sock.family in (socket.AF_INET, socket.AF_INET6)
                        and sock.type == socket.SOCK_STREAM
                        and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                        and sock.getsockname()[1] == port):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    found += 1
            except OSError:
                continue
    return found


@contextlib.asynccontextmanager
async def lifespan(_app):
    """An ``st.App`` lifespan: TCP_NODELAY on the server's listener before it accepts."""
    from streamlit import config

    port = int(config.get_option("server.port"))
    found = set_on_listeners(port)
    if found:
        _LOG.info("TCP_NODELAY set on %d listening socket(s) on port %s", found, port)
    else:
        _LOG.warning("TCP_NODELAY: no listening socket on port %s in this process; "
                     "kept-alive requests may wait ~40 ms for delayed ACKs", port)
    yield
