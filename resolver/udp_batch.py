"""Which UDP I/O a server uses: the compiled batch (recvmmsg/sendmmsg) or the Python loop.

The batch (`resolver._udp_batch`, C, built by setup.py when a compiler is there) reads and
answers up to 64 datagrams per system call; the Python loop makes one recvfrom_into and
one sendto per query. Both hand each datagram to the same `Pipeline.handle`, so answers
are the same byte for byte; only the cost per query differs. The Python loop is used:

- when `DNSFENCE_PURE_PYTHON=1` is in the environment (tests and benchmarks of the
  pure-Python path: no compiled code at all);
- with `server.batch_io: off`;
- when the module is not built (no compiler at install time; not Linux);
- when the module was built from another version of its source than the one beside it
  (an editable checkout after `resolver/_udp_batch.c` changed, before `make build`):
  a stale build is never used silently; a warning says so.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from resolver.compiled_modules import PURE_PYTHON_ENV, pure_python

if TYPE_CHECKING:  # the module may not be built: imported only when chosen
    from resolver._udp_batch import Batch

log = logging.getLogger("dnsfence")

BATCH_IO = ("auto", "off")
"""server.batch_io: auto = the batch when it is built, off = the Python loop."""
SOURCE = Path(__file__).with_name("_udp_batch.c")
MODULE = "resolver._udp_batch"
REBUILD = "make build"
PER_CALL = 64
"""Datagrams per recvmmsg: more saves little (the kernel's per-datagram work dominates)."""


@dataclass(frozen=True, slots=True)
class UdpIo:
    """The chosen path: `batch` makes one `Batch` per socket (None: the Python loop)."""

    batch: type[Batch] | None
    description: str
    """For the start-up log and `dnsfence status`: which path, and why."""

    @property
    def batched(self) -> bool:
        return self.batch is not None


def choose(batch_io: str = "auto") -> UdpIo:
    """The UDP I/O for `server.batch_io`, the environment and what is built."""
    if pure_python():
        return UdpIo(None, f"python ({PURE_PYTHON_ENV} is set)")
    if batch_io == "off":
        return UdpIo(None, "python (server.batch_io: off)")
    batch, why = compiled()
    if batch is None:
        return UdpIo(None, f"python ({why})")
    return UdpIo(batch, f"batched (recvmmsg/sendmmsg, up to {PER_CALL} datagrams a call)")


@functools.cache
def compiled() -> tuple[type[Batch] | None, str]:
    """The compiled module's Batch, or None and why not (warned once if stale)."""
    try:
        module = importlib.import_module(MODULE)
    except ImportError:
        return None, f"the compiled module is not built: {REBUILD} needs a C compiler"
    stale = stale_build(str(getattr(module, "SOURCE_SHA256", "")), SOURCE)
    if stale:
        log.warning("dnsfence: %s; serving UDP on the Python path until `%s`", stale, REBUILD)
        return None, stale
    batch: type[Batch] = module.Batch
    return batch, ""


def stale_build(built_from: str, source: Path) -> str:
    """Why a module built from the source whose SHA-256 is `built_from` must not be used
    with `source` beside it ("" when it may: the same source, or none to compare with,
    as in an installed wheel)."""
    try:
        current = hashlib.sha256(source.read_bytes()).hexdigest()
    except FileNotFoundError:
        return ""
    if built_from == current:
        return ""
    return (f"the compiled {MODULE} was built from another version of {source.name} "
            f"than the one in {source.parent}")
