"""The fixtures of the download tests: a local HTTP server and an empty cache directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from resolver.lists.remote_cache import RemoteCache
from tests.fetch.local_http import PROXY_VARIABLES, LocalServer


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    for variable in PROXY_VARIABLES:  # requests must go straight to 127.0.0.1
        monkeypatch.delenv(variable, raising=False)
    local = LocalServer()
    yield local
    local.stop()


@pytest.fixture
def cache(tmp_path: Path) -> RemoteCache:
    return RemoteCache(tmp_path / "cache")
