"""`querylog:`: which answers are logged, how client addresses are kept, and for how long.

Client addresses are personal data (GDPR): the default logs only blocked queries and keeps
clients truncated to their /24 (IPv4) or /48 (IPv6) network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resolver.config.setting import Setting, number, one_of

MODES = ("off", "blocked", "all")
STANDARD_OUTPUT = "-"
CLIENT_MODES = ("full", "truncate", "hash", "none")




def log_path(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a file path, or - for standard output")
    return value


SETTINGS = (
    Setting("querylog", "mode", "blocked",
            "Which answers are logged: off, blocked (what compliance needs) or all.",
            one_of(MODES)),
    Setting("querylog", "clients", "truncate",
            "How client addresses are logged: full, truncate (IPv4 /24, IPv6 /48), hash "
            "(keyed, the key in state_dir) or none.", one_of(CLIENT_MODES)),
    Setting("querylog", "path", "querylog.jsonl",
            "Log file, one JSON object per line; relative to state_dir; - = standard output.",
            log_path, "querylog.jsonl"),
    Setting("querylog", "rotate_mb", 100,
            "The file is rotated when it reaches this size, in MiB.", number(int, 1, 100_000)),
    Setting("querylog", "keep", 10,
            "Rotated files kept at most (querylog.jsonl.1 is the newest).",
            number(int, 0, 10_000)),
    Setting("querylog", "retention_days", 90,
            "Rotated files last written longer ago than this are deleted, and the live file "
            "is rotated once its first record is this old.", number(int, 1, 36_500)),
    Setting("querylog", "queue", 65_536,
            "Records waiting for the writer at most; beyond it records are dropped and "
            "counted (answers never wait for the log).", number(int, 16, 10_000_000)),
)


@dataclass(frozen=True, slots=True)
class QueryLogConfig:
    mode: str
    clients: str
    path: str
    rotate_mb: int
    keep: int
    retention_days: int
    queue: int

    def file(self, state_dir: Path) -> Path | None:
        """Where the log is written (a relative `path` is in `state_dir`); None when it goes
        to standard output."""
        if self.path == STANDARD_OUTPUT:
            return None
        return state_dir / self.path  # an absolute path stays as it is when joined
