"""The one compiled part: resolver._udp_batch (recvmmsg/sendmmsg), optional.

Everything else is in pyproject.toml. Where no C compiler (or no Python headers) is found,
or on a system without recvmmsg, setuptools warns and builds the package without it, and
dnsfence serves on its Python path. The module carries the SHA-256 of its source, so that
resolver.udp_batch can tell a build older than the source beside it (`make build`).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from setuptools import Extension, setup

SOURCE = Path("resolver") / "_udp_batch.c"


def extensions() -> list[Extension]:
    if not sys.platform.startswith("linux"):
        return []  # recvmmsg and sendmmsg are Linux's
    digest = hashlib.sha256((Path(__file__).parent / SOURCE).read_bytes()).hexdigest()
    return [Extension("resolver._udp_batch", [str(SOURCE)], optional=True,
                      define_macros=[("UDP_BATCH_SOURCE_SHA256", f'"{digest}"')],
                      extra_compile_args=["-Wall", "-Wextra"])]


setup(ext_modules=extensions())
