"""`reload:`: when the server reloads the lists and the config by itself."""

from __future__ import annotations

from dataclasses import dataclass

from resolver.config.setting import Setting, boolean, number

SETTINGS = (
    Setting("reload", "watch", True,
            "Reload when a blocklist, a source file or this config changes (SIGHUP always works).",
            boolean),
    Setting("reload", "poll_interval", 0.5,
            "Seconds between checks for changed files (stat only; works on any filesystem).",
            number(float, 0.05, 60)),
)


@dataclass(frozen=True, slots=True)
class ReloadConfig:
    watch: bool
    poll_interval: float
