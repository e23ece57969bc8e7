"""The last-good-copy tests download from the same local HTTP server as the fetch tests."""

from __future__ import annotations

from tests.fetch.local_http import cache, server

__all__ = ["cache", "server"]
