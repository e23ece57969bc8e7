"""The real server under the kernel restrictions of deploy/systemd/dnsfence.service
(MemoryDenyWriteExecute=, SystemCallFilter=, RestrictAddressFamilies=, NoNewPrivileges=),
applied by tests/deploy/sandbox.py since no systemd runs here: it starts, answers, forwards,
reloads, logs, serves /metrics and /healthz, and stops cleanly, with one worker and with
two. A forbidden system call would kill the process that made it."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.sandbox import UNISTD
from tests.deploy.systemd_unit import UNIT, allowed_syscalls

from .harness import BlocklistDir, DnsfenceFactory, addresses_in, in_ci, rcode_name
from .test_systemd_notify import NotifySocket, children

SANDBOX = Path(__file__).resolve().parents[1] / "deploy" / "sandbox.py"


@pytest.fixture(scope="module")
def allowed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not UNISTD.is_file():
        message = f"{UNISTD} is missing: `.ci/run` installs it (package linux-libc-dev)"
        if in_ci():
            pytest.fail(f"{message}; CI=true, so this is a failure, not a skip")
        pytest.skip(message)
    path = tmp_path_factory.mktemp("sandbox") / "allowed-syscalls"
    path.write_text("\n".join(sorted(allowed_syscalls(UNIT.read_text()))))
    return path


@pytest.fixture
def notify() -> Iterator[NotifySocket]:
    with tempfile.TemporaryDirectory(prefix="notify.") as found:
        listener = NotifySocket(Path(found) / "notify")
        try:
            yield listener
        finally:
            listener.sock.close()


def sandboxed(allowed: Path, *argv: str) -> list[str]:
    return [sys.executable, str(SANDBOX), str(allowed), sys.executable, *argv]


PROBE = """
import ctypes, mmap, os, socket
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    print("wx allowed")
except OSError as error:
    print("wx refused", error.errno)
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
page = libc.mmap(None, 4096, mmap.PROT_READ | mmap.PROT_EXEC, mmap.MAP_PRIVATE
                 | mmap.MAP_ANONYMOUS, -1, 0)
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
print("exec again", libc.mprotect(page, 4096, mmap.PROT_READ | mmap.PROT_EXEC),
      ctypes.get_errno())
try:
    socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    print("netlink allowed")
except OSError as error:
    print("netlink refused", error.errno)
socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).close()
print("inet6 allowed", flush=True)
os.setuid(0)
print("setuid allowed")
"""


def test_the_sandbox_really_restricts(allowed: Path) -> None:
    """Else the server test below would prove nothing."""
    result = subprocess.run(sandboxed(allowed, "-c", PROBE), capture_output=True, text=True,
                            timeout=30, check=False)
    # systemd 252's rule refuses even an mprotect that keeps a page executable (EPERM);
    # MDWE alone would allow it, and refuses a new writable-executable mapping (EACCES)
    assert result.stdout.splitlines() == ["wx refused 1", "exec again -1 1",
                                          "netlink refused 97", "inet6 allowed"], result.stderr
    assert result.returncode == -signal.SIGSYS  # setuid: in @privileged, killed


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_server_runs_under_the_unit_s_restrictions(
        dnsfence_factory: DnsfenceFactory, blocklists_dir: BlocklistDir, allowed: Path,
        notify: NotifySocket, workers: str) -> None:
    blocklists_dir.write("tiktok", domains=["tiktok.com"], effective="2023-03-20")
    server = dnsfence_factory(program=sandboxed(allowed, "-m", "resolver"), workers=workers,
                              env={"NOTIFY_SOCKET": notify.path})
    ready, _ = notify.until("READY")
    assert ready["MAINPID"] == str(server.pid)  # exec'd in place, as systemd starts it
    for pid in [server.pid, *children(server.pid)]:  # the filter holds in every process
        status = Path(f"/proc/{pid}/status").read_text()
        assert "\nSeccomp:\t2\n" in status and "\nNoNewPrivs:\t1\n" in status, pid
    assert len(children(server.pid)) == (0 if workers == "1" else 2)
    assert rcode_name(server.query("www.tiktok.com")) == "NXDOMAIN"
    assert addresses_in(server.query("www.example.test"))  # forwarded to unbound
    assert addresses_in(server.query("www.example.test", tcp=True))
    assert server.http_address is not None
    host, port = server.http_address
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
        metrics = response.read().decode()
    assert "process_resident_memory_bytes" in metrics and "dnsfence_" in metrics
    with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=5) as response:
        assert response.status == 200
    blocklists_dir.write("lab", domains=["example.test"], effective="2023-03-20")
    server.send_signal(signal.SIGHUP)
    notify.until("RELOADING")
    ready, _ = notify.until("READY")
    assert "reloaded at" in ready["STATUS"]
    assert rcode_name(server.query("www.example.test")) == "NXDOMAIN"
    assert server.stop() == 0
    log = server.state_dir / "querylog.jsonl" if server.state_dir else None
    assert log is not None and "www.tiktok.com" in log.read_text()
    stderr = "\n".join(server.stderr_lines())
    assert "died" not in stderr and "Traceback" not in stderr and "killed" not in stderr
