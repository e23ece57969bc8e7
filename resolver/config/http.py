"""`http:`: where `/metrics`, `/healthz` and the dashboard are served (loopback unless the
admin says otherwise), and the access token that anything else than loopback requires.

The token is a secret: it is read from a file (`http.token_file`) or from the environment
(`DNSFENCE_HTTP_TOKEN`), never written in the config, which is often kept in git.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resolver.config.endpoints import Endpoint, parse_endpoint
from resolver.config.setting import Setting, boolean

DEFAULT_PORT = 9153  # CoreDNS's metrics port
TOKEN_ENV = "DNSFENCE_HTTP_TOKEN"
MIN_TOKEN = 16
"""Characters a token has at least (`openssl rand -hex 32` gives 64)."""
HOW_TO_SET = (f"make one with `openssl rand -hex 32 > /etc/dnsfence/http-token` and set "
              f"http.token_file to that file, or set the environment variable {TOKEN_ENV}")


def http_endpoint(value: Any) -> Endpoint | None:
    """HOST:PORT, or empty (or null) for no HTTP listener at all."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be HOST:PORT or empty, not {value!r}")
    return parse_endpoint(value, DEFAULT_PORT)


def optional_file(value: Any) -> Path | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be a file path or empty, not {value!r}")
    return Path(value)


SETTINGS = (
    Setting("http", "listen", Endpoint("127.0.0.1", DEFAULT_PORT),
            "Address of the HTTP listener for /metrics (Prometheus), /healthz and the "
            "read-only dashboard (/); empty disables it. Anything but loopback needs a token "
            "(http.token_file or DNSFENCE_HTTP_TOKEN) while the dashboard is on, or the "
            "server does not start.",
            http_endpoint, "127.0.0.1:9153"),
    Setting("http", "token_file", None,
            "File holding the access token (one line, 16 characters or more) that the "
            "dashboard, its JSON and /metrics require: `Authorization: Bearer TOKEN`, or "
            "HTTP basic auth with the token as password; relative to the config file. The "
            "environment variable "
            "DNSFENCE_HTTP_TOKEN wins over it. /healthz never asks for it.",
            optional_file),
    Setting("http", "open_metrics", False,
            "Serve /metrics without the token even when one is set (for a scraper that "
            "cannot send one; it shows counters, no names nor clients).", boolean),
    Setting("http", "dashboard", True,
            "Serve the read-only dashboard (/, /api/dashboard, /api/check); false leaves "
            "/metrics and /healthz only.", boolean),
)


@dataclass(frozen=True, slots=True)
class HttpConfig:
    listen: Endpoint | None
    token_file: Path | None = None
    open_metrics: bool = False
    dashboard: bool = True


def is_loopback(endpoint: Endpoint) -> bool:
    """Whether only this host can reach `endpoint` (127.0.0.0/8 or ::1)."""
    try:
        return ipaddress.ip_address(endpoint.host).is_loopback
    except ValueError:
        return False


class TokenError(ValueError):
    """No usable token where one is needed, or a token file that cannot be read."""


def access_token(http: HttpConfig, environ: Mapping[str, str] = os.environ) -> str | None:
    """The token the listener requires (None: none is set and none is needed).

    Raises TokenError when the listener is not on loopback, serves the dashboard, and no
    token is set (anyone on the network could read it: it names blocked queries and
    clients; without it, /metrics and /healthz are served off loopback as before), or
    when the token file cannot be read or the token is too short; the message says how to
    set one."""
    token: str | None = environ.get(TOKEN_ENV) or None
    where = TOKEN_ENV
    if token is None and http.token_file is not None:
        where = str(http.token_file)
        try:
            token = http.token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise TokenError(f"cannot read the HTTP token file {http.token_file} (http."
                             f"token_file): {getattr(exc, 'strerror', None) or exc}") from None
    if token is not None:
        token = token.strip()
        if len(token) < MIN_TOKEN or any(c.isspace() for c in token):
            raise TokenError(f"the HTTP token in {where} must be at least {MIN_TOKEN} "
                             f"characters without spaces; {HOW_TO_SET}")
        return token
    if http.listen is not None and not is_loopback(http.listen) and http.dashboard:
        raise TokenError(f"http.listen is {http.listen}, which is not loopback, and no "
                         f"access token is set: the dashboard would show blocked names and "
                         f"clients to the network; {HOW_TO_SET} (or listen on 127.0.0.1 "
                         f"behind a reverse proxy, or set http.dashboard: false to serve "
                         f"/metrics and /healthz only)")
    return None
