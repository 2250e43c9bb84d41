"""The gateway half of bench/memory_probe.py, loaded by every Python process that bench starts
(PYTHONPATH) and active only in the gateway's uvicorn process while MEDLEDGER_MEMPROBE_DIR is set:
for each request file ``gateway-<label>.want`` in that directory it writes ``gateway-<label>.json``
(glibc's heap from mallinfo2, live Python objects by type, tracemalloc's total) and, with
MEDLEDGER_MEMPROBE_TRACE=1, a tracemalloc snapshot ``gateway-<label>.snap`` (tracing starts at
the first request, so the gateway's start-up is not slowed by it)."""

from __future__ import annotations

import ctypes
import gc
import json
import os
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd",
            "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def _answer(folder: Path, label: str) -> None:
    if os.environ.get("MEDLEDGER_MEMPROBE_TRACE") == "1" and not tracemalloc.is_tracing():
        tracemalloc.start(8)
    gc.collect()
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _Mallinfo2
    heap = libc.mallinfo2()  # summed over every arena
    types = Counter(type(o).__name__ for o in gc.get_objects())
    report = {
        # arena: taken from the system (sbrk and arena heaps); uordblks: in use; fordblks: free
        # in those heaps, kept by malloc; hblkhd: in blocks of their own (mmap)
        "malloc_mib": {k: getattr(heap, k) / 2**20 for k in ("arena", "uordblks", "fordblks")}
        | {"hblkhd": heap.hblkhd / 2**20},
        "threads": threading.active_count(),
        "objects": types.most_common(20),
        "traced_mib": [n / 2**20 for n in tracemalloc.get_traced_memory()],
    }
    if tracemalloc.is_tracing():
        tracemalloc.take_snapshot().dump(str(folder / f"gateway-{label}.snap"))
    (folder / f"gateway-{label}.json").write_text(json.dumps(report))


def _serve(folder: Path) -> None:
    while True:
        time.sleep(0.3)
        for want in folder.glob("gateway-*.want"):
            want.unlink()
            _answer(folder, want.stem.removeprefix("gateway-"))


def _is_gateway() -> bool:
    try:
        return b"uvicorn" in Path("/proc/self/cmdline").read_bytes()
    except OSError:
        return False


if os.environ.get("MEDLEDGER_MEMPROBE_DIR") and _is_gateway():
    folder = Path(os.environ["MEDLEDGER_MEMPROBE_DIR"])
    threading.Thread(target=_serve, args=(folder,), name="memprobe", daemon=True).start()
