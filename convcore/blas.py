"""How many threads BLAS may use for a GEMM: one, when the GEMM is bound by memory.

NumPy's OpenBLAS runs every large enough GEMM on all cores, and its worker threads keep
spinning for a while after each call.  A thin GEMM (few output rows per group: depthwise and
small grouped layers, few output channels) is bound by reading its columns, so the second
thread gains nothing — and between two such calls the spinning worker competes with the
column gather on the calling thread.  Measured on the 2-core development VM: a 31x31 kernel on
256x256 by im2col took 97 ms with OpenBLAS's 2 threads and 12 ms with 1 (64 chunks, each a
gather then a GEMV); a 1-D groups=8 layer 16 ms and 7 ms.  Dense GEMMs keep both threads.

The limit is process-wide while it lasts (``threadpoolctl``), so it is only taken around
calls big enough for it to matter.
"""

from __future__ import annotations

import contextlib

THIN_ROWS = 32  # GEMMs with fewer output rows per group than this are bound by memory
MIN_MACS = 2**24  # below this a call's GEMMs are too small for BLAS to thread: leave it be
_controller: list = []


def one_thread_if(thin: bool, macs: int):
    """A context in which BLAS uses one thread when ``thin`` and the call does at least
    :data:`MIN_MACS` multiply-adds in its GEMMs; else no change (it would cost ~13 us)."""
    if not thin or macs < MIN_MACS:
        return contextlib.nullcontext()
    if not _controller:
        from threadpoolctl import ThreadpoolController

        _controller.append(ThreadpoolController())
    return _controller[0].limit(limits=1, user_api="blas")
