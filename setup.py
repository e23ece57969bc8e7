"""The compiled parts, both optional: the UDP batch (C) and the hot modules (mypyc).

Everything else is in pyproject.toml.

- `resolver._udp_batch` (recvmmsg/sendmmsg) is built whenever a C compiler and Python's
  headers are there; without them setuptools warns and dnsfence serves UDP on its Python
  path. The module carries the SHA-256 of its source, so that resolver.udp_batch can tell
  a build older than the source beside it.
- The hot modules (`HOT_MODULES`: the query's path through the chain) are compiled with
  mypyc from the same Python source only when `DNSFENCE_COMPILE=1` is set (`make build`,
  the container image): a plain `pip install` never needs mypy or a compiler. The build
  writes `resolver/compiled.json`, the SHA-256 of each compiled module's source, so that
  `resolver.compiled_modules` runs the Python source instead of a build older than it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).parent
SOURCE = Path("resolver") / "_udp_batch.c"
COMPILE_ENV = "DNSFENCE_COMPILE"
MANIFEST = HERE / "resolver" / "compiled.json"
SHARED_LIBRARY = "resolver._hot"
"""mypyc's group name: its shared library is `resolver/_hot__mypyc…so`, inside the package
(a top-level one would not be importable from an editable checkout)."""
HOT_MODULES = (
    "resolver/pipeline.py",
    "resolver/cache.py",
    "resolver/udp_server.py",
    "resolver/dns/*.py",
    "resolver/stages/*.py",
    "resolver/policy/index.py",
    "resolver/policy/below_memo.py",
    "resolver/policy/name_tables.py",
    "resolver/policy/names.py",
    "resolver/querylog/record.py",
    "resolver/upstream/transport.py",
    "resolver/upstream/forwarder.py",
    "resolver/upstream/health.py",
    "resolver/upstream/servers.py",
)
"""What a query runs through; globs, relative to this file."""
INTERPRETED = {
    "__init__.py",
    "resolver/stages/response_kind.py",  # an Enum with attributes set in __init__
    "resolver/stages/roles.py",  # runtime-checkable protocols
}


def udp_batch() -> list[Extension]:
    if not sys.platform.startswith("linux"):
        return []  # recvmmsg and sendmmsg are Linux's
    digest = hashlib.sha256((HERE / SOURCE).read_bytes()).hexdigest()
    return [Extension("resolver._udp_batch", [str(SOURCE)], optional=True,
                      define_macros=[("UDP_BATCH_SOURCE_SHA256", f'"{digest}"')],
                      extra_compile_args=["-Wall", "-Wextra"])]


def hot_sources() -> list[str]:
    found: list[str] = []
    for pattern in HOT_MODULES:
        for path in sorted(HERE.glob(pattern)):
            relative = path.relative_to(HERE).as_posix()
            if relative not in INTERPRETED and path.name not in INTERPRETED:
                found.append(relative)
    return found


def hot_modules() -> list[Extension]:
    """mypyc's extensions for the hot modules, and the manifest beside them."""
    if os.environ.get(COMPILE_ENV, "").strip().lower() not in {"1", "true", "yes"}:
        return []
    try:
        from mypyc.build import mypycify  # only here: a plain install does not need mypy
    except ImportError as exc:
        raise SystemExit(f"{COMPILE_ENV}=1 needs mypy in the build environment ({exc}): "
                         "pip install mypy, and build with --no-build-isolation") from exc

    sources = hot_sources()
    digests = {path.removesuffix(".py").replace("/", "."):
               hashlib.sha256((HERE / path).read_bytes()).hexdigest() for path in sources}
    MANIFEST.write_text(json.dumps({"shared_library": SHARED_LIBRARY, "modules": digests},
                                   indent=1, sort_keys=True) + "\n")
    extensions = list(mypycify(sources, opt_level="3", debug_level="0",
                               group_name=SHARED_LIBRARY))
    for extension in extensions:  # generated C: its warnings are mypyc's to fix, not ours
        extension.extra_compile_args = [*extension.extra_compile_args, "-w"]
    return extensions


if __name__ == "__main__":  # as setuptools runs it; tests import the lists
    setup(ext_modules=udp_batch() + hot_modules())
