"""Client addresses as the query log keeps them: personal data, so reduced by default.

`truncate` keeps the network (IPv4 /24, IPv6 /48), enough to tell offices apart; `hash`
keeps a keyed token, so one device can be followed across days and restarts without the
log revealing its address (the key stays in the state directory, never in the log).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import os
import tempfile
from pathlib import Path

KEY_FILE = "querylog.key"
KEY_BYTES = 32
TOKEN_CHARS = 16


def load_key(state_dir: Path) -> bytes:
    """The hash key in `state_dir`, made (32 random bytes, mode 0600) if there is none yet.

    Several workers may start at once: the new key is linked into place, which fails if
    another got there first, and then every worker reads the one that won.
    """
    path = state_dir / KEY_FILE
    if not path.exists():
        state_dir.mkdir(mode=0o750, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=state_dir, prefix=f".{KEY_FILE}.")
        try:
            os.fchmod(handle, 0o600)
            os.write(handle, os.urandom(KEY_BYTES))
            os.fsync(handle)
            os.close(handle)
            handle = -1
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            if handle >= 0:
                os.close(handle)
            os.unlink(temporary)
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ValueError(f"{path}: a query-log key is {KEY_BYTES} bytes, not {len(key)}")
    return key


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address `text` names, an IPv4 client of a dual-stack socket as IPv4."""
    try:
        ip = ipaddress.ip_address(text.partition("%")[0])  # without an IPv6 zone
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def truncated(address: str) -> str:
    """The address's /24 (IPv4) or /48 (IPv6) network address; "" if it is no address."""
    ip = _address(address)
    if ip is None:
        return ""
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network((ip, prefix), strict=False).network_address)


class ClientAnonymiser:
    """address -> logged form, for one `clients` mode (its user memoises the results:
    the query-log formatter keeps them quoted for JSON)."""

    __slots__ = ("_key", "mode")

    def __init__(self, mode: str, key: bytes = b"") -> None:
        if mode not in ("full", "truncate", "hash", "none"):
            raise ValueError(f"unknown client mode {mode!r}")
        if mode == "hash" and len(key) != KEY_BYTES:
            raise ValueError("mode hash needs a key")
        self.mode = mode
        self._key = key

    def __call__(self, address: str) -> str:
        mode = self.mode
        if mode == "truncate":
            return truncated(address)
        if mode == "hash":
            ip = _address(address)  # one token per client, however its address is spelled
            text = address if ip is None else str(ip)
            digest = hmac.new(self._key, text.encode("utf-8", "surrogateescape"),
                              hashlib.sha256)
            return digest.hexdigest()[:TOKEN_CHARS]
        if mode == "full":
            return address
        return ""
