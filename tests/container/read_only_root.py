"""Run a command the way a container with `read_only: true` runs it, without Docker:

    unshare --mount --propagation private python read_only_root.py DIR... -- COMMAND...

Inside its own mount namespace it makes each DIR a mount of its own (the volumes), then
remounts read-only the root and every mount holding a place a process might write (/tmp,
/run, /var, the home and working directories, the interpreter's prefix, this checkout),
checks that, and runs COMMAND. /proc, /sys and /dev stay as they are (as a container
runtime mounts its own). Nothing changes outside the namespace: it refuses to run in the
namespace it was started from.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from pathlib import Path

EXIT_SETUP = 70


def mount_points() -> list[str]:
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as info:
        for line in info:
            field = line.split()[4]  # octal escapes for spaces and the like
            points.append(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field))
    return points


def holding_mount(path: str, points: list[str]) -> str:
    """The mount point `path` lives on: the longest mount point that contains it."""
    found = [p for p in points if path == p or path.startswith(p.rstrip("/") + "/")]
    return max(found, key=len)


def places_to_protect(command_cwd: str) -> list[str]:
    here = Path(__file__).resolve().parents[2]
    places = ["/", "/tmp", "/var/tmp", "/run", "/var", "/home", "/root",
              os.path.expanduser("~"), command_cwd, str(here), sys.prefix, sys.base_prefix]
    return [os.path.realpath(p) for p in places if os.path.exists(p)]


def writable(directory: str) -> bool:
    probe = os.path.join(directory, f".read-only-probe-{os.getpid()}")
    try:
        with open(probe, "w", encoding="ascii") as handle:
            handle.write("x")
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES):
            return False
        raise
    os.unlink(probe)
    return True


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print("usage: read_only_root.py DIR... -- COMMAND...", file=sys.stderr)
        return EXIT_SETUP
    split = argv.index("--")
    volumes = [os.path.realpath(d) for d in argv[:split]]
    command = argv[split + 1:]
    ours, parents = os.readlink("/proc/self/ns/mnt"), os.readlink(f"/proc/{os.getppid()}/ns/mnt")
    if ours == parents:
        print("read_only_root.py: not in a mount namespace of its own; run it under "
              "`unshare --mount --propagation private`", file=sys.stderr)
        return EXIT_SETUP
    for volume in volumes:
        subprocess.run(["mount", "--bind", volume, volume], check=True)
    points = mount_points()
    protected = sorted({holding_mount(p, points) for p in places_to_protect(os.getcwd())})
    for point in protected:
        if point in volumes or point.startswith(("/proc", "/sys", "/dev")):
            continue
        subprocess.run(["mount", "-o", "remount,bind,ro", point], check=True)
    still = [p for p in ("/tmp", os.getcwd()) if writable(p)]
    lost = [v for v in volumes if not writable(v)]
    if still or lost:
        print(f"read_only_root.py: still writable {still}, not writable {lost}",
              file=sys.stderr)
        return EXIT_SETUP
    os.execvp(command[0], command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
