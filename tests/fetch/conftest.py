"""The fixtures of the download tests: a local HTTP server and an empty cache directory."""

from __future__ import annotations

from tests.fetch.local_http import cache, server

__all__ = ["cache", "server"]
