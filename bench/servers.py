"""The processes of a benchmark: the upstream and the three servers measured, all on loopback.

Network safety: every address here is 127.0.0.1. The upstream is an Unbound that answers
everything from local data (`local-zone: "." static`, one `redirect` zone per allowed name)
and never queries anything (`do-not-query-localhost`, no forward or stub zones, no root
hints used). dnsmasq runs with `--no-resolv --no-hosts` and only `--server=127.0.0.1#UPORT`;
the Unbound measured forwards "." only to the upstream. Each process runs in its own
session; its process group is written to a file that `bench/run.sh` kills on exit, and
`stop_all()` kills them on a normal exit too.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bench import procstat
from bench.corpus import REPO

LOOPBACK = "127.0.0.1"
SERVER_CPU = "0"
CLIENT_CPU = "1"
_started: list[Process] = []
PGID_FILE = Path(os.environ.get("BENCH_PGID_FILE", "/dev/null"))


def free_port() -> int:
    """A port free for both UDP and TCP on loopback."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((LOOPBACK, 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((LOOPBACK, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port on loopback")


def _query(name: str, qid: int) -> bytes:
    wire = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + wire + struct.pack("!HH", 1, 1)


def ask(port: int, name: str, timeout: float = 0.2) -> int | None:
    """The rcode of one A query over UDP, or None when nothing answered in time."""
    qid = random.randrange(65536)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(_query(name, qid), (LOOPBACK, port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = sock.recv(4096)
            except (TimeoutError, ConnectionRefusedError):
                return None
            if len(data) >= 12 and struct.unpack("!H", data[:2])[0] == qid:
                return data[3] & 0x0F
    return None


NXDOMAIN = 3
NOERROR = 0


@dataclass
class Process:
    """One started server: its command, pid, log, and how long it took to answer."""

    name: str
    command: list[str]
    port: int
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    ready_after: float | None = None
    extra: dict[str, object] = field(default_factory=dict)
    cwd: Path = REPO  # `python -m resolver` imports the package of its working directory

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self) -> Process:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.started_at = time.monotonic()
            self.popen = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True,
                                          cwd=self.cwd)
        _started.append(self)
        with contextlib.suppress(OSError), PGID_FILE.open("a") as pids:
            pids.write(f"{self.popen.pid}\n")
        return self

    def wait_answering(self, probe: str, rcode: int, timeout: float) -> float:
        """Seconds from start until `probe` gets `rcode`: start-up to first answer."""
        deadline = self.started_at + timeout
        while time.monotonic() < deadline:
            if self.popen is not None and self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode} at start; "
                                   f"log {self.log}:\n{tail(self.log)}")
            got = ask(self.port, probe, timeout=0.1)
            if got == rcode:
                self.ready_after = time.monotonic() - self.started_at
                return self.ready_after
            if got is None:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer {probe} with rcode {rcode} within "
                           f"{timeout:.0f} s; log {self.log}:\n{tail(self.log)}")

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)
        # workers or children that outlived their parent
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        if self in _started:
            _started.remove(self)

    def cpu(self) -> dict[int, float]:
        return procstat.tree_cpu(self.pid)

    def memory(self) -> list[procstat.Memory]:
        return procstat.tree_memory(self.pid)


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_all() -> None:
    for process in reversed(list(_started)):
        with contextlib.suppress(Exception):
            process.stop()


def _pinned(cpu: str | None, command: Sequence[str]) -> list[str]:
    return ["taskset", "-c", cpu, *command] if cpu is not None else list(command)


def binary(name: str) -> str:
    for directory in (*os.environ.get("PATH", "").split(os.pathsep), "/usr/sbin", "/sbin"):
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise RuntimeError(f"{name} not found; bench/run.sh installs it with apt-get")


# --- the upstream ---------------------------------------------------------------------------

def _unbound_common(port: int, directory: Path) -> list[str]:
    return [
        f"interface: {LOOPBACK}", f"port: {port}", "do-ip4: yes", "do-ip6: no",
        "do-udp: yes", "do-tcp: yes", "so-reuseport: no", 'chroot: ""', 'username: ""',
        f'directory: "{directory}"', 'pidfile: ""', "use-syslog: no", 'logfile: ""',
        "verbosity: 1", "num-threads: 1", 'module-config: "iterator"',
        "access-control: 127.0.0.0/8 allow", "qname-minimisation: no", "prefetch: no",
    ]


def _unbound_conf(path: Path, server: list[str], tail_sections: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="ascii") as out:
        out.write("server:\n")
        out.writelines(f"    {line}\n" for line in server)
        out.write(tail_sections)
        out.write("remote-control:\n    control-enable: no\n")
    return path


def upstream(workdir: Path, zones: Sequence[str],
             tls: tuple[Path, Path] | None = None) -> Process:
    """Unbound on CPU 1 answering `A 192.0.2.1` for each zone and every name below it;
    with `tls` (certificate, key), over DNS over TLS too, on port `extra["tls_port"]`."""
    port = free_port()
    tls_lines = []
    tls_port = 0
    if tls is not None:
        tls_port = free_port()
        tls_lines = [f"interface: {LOOPBACK}@{tls_port}", f"tls-port: {tls_port}",
                     f'tls-service-pem: "{tls[0]}"', f'tls-service-key: "{tls[1]}"']
    lines = [*_unbound_common(port, workdir), *tls_lines,
             "do-not-query-localhost: yes",
             # the root is local and static: a name outside the zones gets NXDOMAIN, and
             # nothing is ever looked up elsewhere
             'local-zone: "." static']
    for zone in zones:
        lines.append(f'local-zone: "{zone}." redirect')
        lines.append(f'local-data: "{zone}. 3600 IN A 192.0.2.1"')
    conf = _unbound_conf(workdir / "unbound.conf", lines)
    command = _pinned(CLIENT_CPU, [binary("unbound"), "-d", "-c", str(conf)])
    return Process("upstream", command, port, workdir / "unbound.log",
                   extra={"tls_port": tls_port} if tls else {})


# --- the servers measured -------------------------------------------------------------------

BENCH_CONFIG = """\
# The shipped deploy/dnsfence.yaml with the bench's listen, upstream and lists given as flags.
timezone: Europe/Brussels
server:
  allow_clients: ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                  "100.64.0.0/10", "fc00::/7", "fe80::/10"]
"""


def dnsfence(workdir: Path, blocklists: Path, upstream_port: int, *, workers: int = 1,
             cpu: str | None = SERVER_CPU, checkout: Path | None = None,
             name: str = "dnsfence", settings: str = "", upstream: str | None = None,
             http: str = "", pure: bool = False) -> Process:
    """dnsfence from this repository, or with `checkout` from that one (same flags; run
    in it with PYTHONPATH set to it, so that it imports its own `resolver`).

    `settings` is YAML added to the config (e.g. a `querylog:` section; empty: the
    defaults; a `server:` section is merged into the bench's own, e.g.
    `server: {batch_io: off}`); the query log and its state go to `workdir`. No HTTP
    listener unless `http` gives its address (servers run side by side). `upstream`
    replaces `--upstream 127.0.0.1:UPSTREAM_PORT` (e.g. with a tls:// server). `pure`
    runs it with DNSFENCE_PURE_PYTHON=1 (no compiled code, whatever is built).
    """
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "dnsfence.yaml"
    server, settings = server_settings(settings)
    text = BENCH_CONFIG + server
    if (checkout or REPO).joinpath("resolver/config/http.py").exists():
        text += f"state_dir: {workdir / 'state'}\nhttp:\n  listen: '{http}'\n{settings}"
    config.write_text(text)
    env = [] if checkout is None else ["env", f"PYTHONPATH={checkout}"]
    if pure:
        env = [*(env or ["env"]), "DNSFENCE_PURE_PYTHON=1"]
    command = _pinned(cpu, [
        *env, sys.executable, "-m", "resolver", "serve", "--config", str(config),
        "--listen", f"{LOOPBACK}:{port}", "--upstream", upstream or f"{LOOPBACK}:{upstream_port}",
        "--blocklists", str(blocklists), "--workers", str(workers)])
    return Process(name, command, port, workdir / "dnsfence.log", cwd=checkout or REPO)


def server_settings(settings: str) -> tuple[str, str]:
    """`settings` split into the lines that go into BENCH_CONFIG's `server:` section (as
    block lines, indented) and the rest: YAML takes one `server:` key only."""
    parsed = yaml.safe_load(settings) if settings.strip() else None
    if not isinstance(parsed, dict) or "server" not in parsed:
        return "", settings
    server = yaml.safe_dump(parsed.pop("server"), default_flow_style=False, sort_keys=False)
    rest = yaml.safe_dump(parsed, sort_keys=False) if parsed else ""
    return "".join(f"  {line}\n" for line in server.splitlines()), rest


def dnsmasq(workdir: Path, blocked: Sequence[str], upstream_port: int) -> Process:
    """dnsmasq with `address=/name/` (NXDOMAIN for the name and below) per blocked name."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "dnsmasq.conf"
    with conf.open("w", encoding="ascii") as out:
        out.writelines(f"address=/{name}/\n" for name in blocked)
    command = _pinned(SERVER_CPU, [
        binary("dnsmasq"), "--keep-in-foreground", "--no-resolv", "--no-hosts",
        "--no-poll", f"--server={LOOPBACK}#{upstream_port}", f"--port={port}",
        f"--listen-address={LOOPBACK}", "--bind-interfaces", f"--conf-file={conf}",
        "--cache-size=10000", f"--user={getpass.getuser()}", "--pid-file=",
        f"--log-facility={workdir / 'dnsmasq-syslog.log'}"])
    return Process("dnsmasq", command, port, workdir / "dnsmasq.log")


def unbound_server(workdir: Path, blocked: Sequence[str], upstream_port: int) -> Process:
    """Unbound forwarding "." to the upstream, each blocked name `always_nxdomain`."""
    port = free_port()
    lines = [*_unbound_common(port, workdir),
             # it must reach the upstream on 127.0.0.1; the only zone it forwards is "."
             # and only to that address
             "do-not-query-localhost: no",
             "msg-cache-size: 64m", "rrset-cache-size: 128m"]
    lines.extend(f'local-zone: "{name}." always_nxdomain' for name in blocked)
    forward = (f'forward-zone:\n    name: "."\n    forward-addr: {LOOPBACK}@{upstream_port}\n'
               "    forward-first: no\n")
    conf = _unbound_conf(workdir / "unbound.conf", lines, forward)
    command = _pinned(SERVER_CPU, [binary("unbound"), "-d", "-c", str(conf)])
    return Process("unbound", command, port, workdir / "unbound.log")
