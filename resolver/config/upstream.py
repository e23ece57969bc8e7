"""`upstream:`: the resolvers dnsfence forwards to, and how long it waits for them."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resolver.config.endpoints import Endpoint, servers
from resolver.config.setting import Setting, number


def optional_file(value: Any) -> Path | None:
    """A file's path, or None (empty or not given) for the built-in default."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be a file path, not {value!r}")
    return Path(value)


def ca_file_problem(path: Path) -> str | None:
    """Why `path` cannot serve as the CA file (None: it can), said when the config is read
    rather than at the first DNS-over-TLS connection."""
    try:
        ssl.create_default_context(cafile=str(path))
    except FileNotFoundError:
        return f"{path} does not exist"
    except ssl.SSLError as exc:  # an OSError too: first
        return f"{path} holds no usable PEM certificate ({exc.reason or exc})"
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    return None


SETTINGS = (
    Setting("upstream", "servers", (),
            "Resolvers to forward to, tried in order (default: nameservers in /etc/resolv.conf): "
            "HOST[:PORT] for plain DNS, tls://HOST[:PORT]#NAME for DNS over TLS (port 853; the "
            "certificate must be valid for NAME, or for HOST when no NAME is given).",
            servers, ["9.9.9.9", "149.112.112.112"]),
    Setting("upstream", "timeout", 1.0,
            "Seconds to wait for one upstream before trying the next.", number(float, 0.01, 30)),
    Setting("upstream", "deadline", 3.0,
            "Seconds after which the client gets SERVFAIL.", number(float, 0.05, 60)),
    Setting("upstream", "ca_file", None,
            "PEM file of the certificate authorities that DNS-over-TLS servers' certificates "
            "must chain to; relative to the config file (default: the system's CAs).",
            optional_file, "/etc/ssl/certs/ca-certificates.crt"),
)

# (smaller, larger, why): keys whose values must be in this order.
ORDERED = (
    (("upstream", "timeout"), ("upstream", "deadline"),
     "one upstream's timeout cannot exceed the client's deadline"),
)


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    servers: tuple[Endpoint, ...]
    timeout: float
    deadline: float
    ca_file: Path | None = None
