"""Peak memory and time of uploads, each measured in a process of its own.

``python tests/upload_probe.py MANIFEST`` reads a JSON list of cases
(``{"file": path, "name": upload name, "ndim": 1 or 2, "kind": "upload" or "typed"}``), loads
each through :mod:`app.sources` in a fork of this process and prints one JSON line per case:
``{"peak_bytes", "seconds", "ok", "error", "message", "shape"}``.

Peak is the rise of the kernel's resident-set high-water mark (``VmHWM``) during the call, reset
to the current size just before it (``/proc/self/clear_refs``).  ``resource.getrusage``'s
``ru_maxrss`` cannot be used in a child process: Linux starts it at the parent's peak (a child
of a 400 MB pytest reports 400 MB before doing anything).  A fork per case keeps one case's
freed memory from hiding the next one's; the child faults in the code pages it runs, about
2 MB, which the tests' 4 MB floor covers.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # no BLAS thread pool across fork()

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from app.shared import sources  # noqa: E402


def _image(fmt: str, size: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size)).save(buf, format=fmt)
    return buf.getvalue()


PNG_1X1, JPEG_8X8 = _image("PNG", 1), _image("JPEG", 8)


def high_water_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def reset_high_water() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def measure(case: dict) -> dict:
    data = Path(case["file"]).read_bytes()
    typed = data.decode("utf-8") if case["kind"] == "typed" else None
    reset_high_water()
    before = high_water_bytes()
    started = time.perf_counter()
    result: dict = {"ok": False, "error": None, "message": None, "shape": None}
    try:
        if typed is not None:
            out = sources.parse_typed_values(typed, case["ndim"])
        else:
            out, _ = sources.load_upload(case["name"], data, case["ndim"])
        result.update(ok=True, shape=list(out.shape))
    except Exception as e:  # the probe reports every escape; the tests judge them
        result.update(error=type(e).__name__, message=str(e)[:500])
    result["seconds"] = time.perf_counter() - started
    result["peak_bytes"] = high_water_bytes() - before
    return result


def warm_up() -> None:
    """Load one small file of each kind, so that the first use's imports and caches (Pillow's
    plugins, compiled patterns) are not counted against the first case: a server pays them
    once, not per upload."""
    Image.init()
    for name, data in [("w.csv", b"1,2\n3,4\n"), ("w.png", PNG_1X1), ("w.jpg", JPEG_8X8)]:
        sources.load_upload(name, data, 2)
    buf = io.BytesIO()
    np.save(buf, np.zeros((2, 2)))
    sources.load_upload("w.npy", buf.getvalue(), 2)
    sources.parse_typed_values("[[1, 2], [3, 4]]", 2)
    for bad in (b"\x00", b"GIF89a"):
        with contextlib.suppress(sources.SourceError):
            sources.load_upload("w.png", bad, 2)
    gc.collect()


def main(manifest: str) -> None:
    cases = json.loads(Path(manifest).read_text())
    warm_up()
    for case in cases:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child measures one case and leaves without cleanup
            os.close(read_end)
            try:
                line = json.dumps(measure(case))
            except BaseException as e:
                line = json.dumps({"ok": False, "error": type(e).__name__,
                                   "message": f"probe failed: {e}"[:500]})
            os.write(write_end, line.encode())
            os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end) as f:
            reply = f.read()
        _, status = os.waitpid(pid, 0)
        if not reply:
            reply = json.dumps({"ok": False, "error": "ChildDied", "message": f"status {status}"})
        print(reply, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
