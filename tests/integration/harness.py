"""Real processes on loopback for end-to-end tests: an unbound upstream and ``dnsfence serve``.

End-to-end tests must cross real sockets and a real upstream, yet never reach the internet:
the unbound started here answers every name from local data (``local-zone: "." static``) and
never recurses. Every wait in this module is bounded in time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
import yaml

RdType = str | dns.rdatatype.RdataType

REPO_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"

# Directories searched after $PATH: Debian installs unbound in /usr/sbin, which a non-root
# user's PATH often lacks.
_SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


# --------------------------------------------------------------------------------------------
# Tools and environment
# --------------------------------------------------------------------------------------------


def in_ci() -> bool:
    """CI must run every test: there a missing tool is a failure, not a skip."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def find_tool(name: str) -> str | None:
    """Path of executable `name` on $PATH or in the sbin directories, or None."""
    found = shutil.which(name)
    if found is None:
        found = shutil.which(name, path=os.pathsep.join(_SBIN_DIRS))
    return found


def require_tool(name: str) -> str:
    """Path of executable `name`; fails the test under CI=true, skips it elsewhere."""
    found = find_tool(name)
    if found is not None:
        return found
    message = (
        f"{name!r} is not installed (searched $PATH and {', '.join(_SBIN_DIRS)}); "
        "`.ci/run` installs it with apt-get (packages unbound, bind9-dnsutils)"
    )
    if in_ci():
        pytest.fail(f"{message}; CI=true, so this is a failure, not a skip")
    pytest.skip(message)


def free_port(host: str = LOOPBACK) -> int:
    """A port free on `host` for both UDP and TCP at the time of the call.

    The kernel picks a UDP port; the same number must also bind for TCP. The sockets are
    released before returning, so a race with another process is possible: callers retry.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(50):
        with socket.socket(family, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port: int = udp.getsockname()[1]
            with socket.socket(family, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
                return port
    raise RuntimeError(f"no port free for both UDP and TCP on {host} after 50 tries")


def unused_address(host: str = LOOPBACK) -> str:
    """``host:port`` where nothing listens: an upstream that never answers."""
    return f"{host}:{free_port(host)}"


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_address(text: str) -> tuple[str, int]:
    """``127.0.0.1:53`` or ``[::1]:53`` -> (host, port)."""
    match = re.fullmatch(r"\[(?P<v6>[^\]]+)\]:(?P<p6>\d+)|(?P<v4>[^:\[\]]+):(?P<p4>\d+)", text)
    if match is None:
        raise ValueError(f"not a host:port or [v6]:port address: {text!r}")
    if match["v6"] is not None:
        return match["v6"], int(match["p6"])
    return match["v4"], int(match["p4"])


def wait_until(
    predicate: Callable[[], bool], *, timeout: float, interval: float = 0.05, what: str
) -> None:
    """Poll `predicate` until it is true; TimeoutError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------------------------


def query(
    host: str,
    port: int,
    name: str,
    rdtype: RdType = "A",
    *,
    tcp: bool = False,
    edns: bool = True,
    dnssec: bool = False,
    payload: int = 1232,
    timeout: float = 2.0,
) -> dns.message.Message:
    """One query with dnspython; a truncated UDP reply is returned as is (TC set), not retried.

    With ``edns=False`` the query has no OPT record, so a UDP reply is limited to 512 bytes.
    """
    message = dns.message.make_query(
        name,
        rdtype,
        use_edns=0 if (edns or dnssec) else False,
        want_dnssec=dnssec,
        payload=payload,
    )
    if tcp:
        return dns.query.tcp(message, host, port=port, timeout=timeout)
    return dns.query.udp(message, host, port=port, timeout=timeout)


def dig(
    host: str, port: int, *args: str, timeout: float = 10.0
) -> subprocess.CompletedProcess[str]:
    """The real ``dig @host -p port +time=2 +tries=1 ARGS``; skips/fails if dig is missing."""
    binary = require_tool("dig")
    argv = [binary, f"@{host}", "-p", str(port), "+time=2", "+tries=1", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def rcode_name(reply: dns.message.Message) -> str:
    return dns.rcode.to_text(reply.rcode())


def addresses_in(reply: dns.message.Message, rdtype: str = "A") -> list[str]:
    """The addresses (or other rdata, as text) of type `rdtype` in the answer section."""
    wanted = dns.rdatatype.from_text(rdtype)
    return [rdata.to_text() for rrset in reply.answer if rrset.rdtype == wanted for rdata in rrset]


def is_truncated(reply: dns.message.Message) -> bool:
    return bool(reply.flags & dns.flags.TC)


# --------------------------------------------------------------------------------------------
# Process plumbing
# --------------------------------------------------------------------------------------------


class _LineCollector:
    """Reads a child's text stream on a thread; lets tests wait for a line without blocking."""

    def __init__(self, stream: Any, label: str) -> None:
        self._stream = stream
        self._lines: list[str] = []
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=label, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for raw in self._stream:
                with self._cond:
                    self._lines.append(raw.rstrip("\r\n"))
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass  # stream closed under us during teardown
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()

    def lines(self) -> list[str]:
        with self._cond:
            return list(self._lines)

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed

    def wait_for(
        self, pattern: re.Pattern[str], *, start: int, timeout: float
    ) -> tuple[re.Match[str] | None, int]:
        """First match at or after line `start` -> (match, index after it); (None, n) on
        timeout or end of stream."""
        deadline = time.monotonic() + timeout
        index = start
        with self._cond:
            while True:
                while index < len(self._lines):
                    match = pattern.search(self._lines[index])
                    index += 1
                    if match is not None:
                        return match, index
                remaining = deadline - time.monotonic()
                if self._closed or remaining <= 0:
                    return None, index
                self._cond.wait(min(remaining, 0.1))

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


def _terminate(proc: subprocess.Popen[Any], timeout: float, *, group: bool) -> int:
    """SIGTERM, wait up to `timeout` s, then SIGKILL (the whole process group if `group`)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    if group:
        # Workers the server may have forked share its process group; kill them too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.kill()
    return proc.wait(5.0)


# --------------------------------------------------------------------------------------------
# Unbound: the upstream
# --------------------------------------------------------------------------------------------

SOA_MINIMUM = 60
BIG_TXT_COUNT = 40

# Zones answered locally. "." static is what keeps unbound off the internet: every name not
# in local data is NXDOMAIN from local config, so the iterator never sends a packet out.
LOCAL_ZONES: tuple[tuple[str, str], ...] = (
    (".", "static"),
    ("example.test.", "static"),
    ("example.com.", "static"),
    ("tiktok.com.", "static"),
    ("byteoversea.com.", "static"),
)


def _soa(zone: str) -> str:
    origin = "" if zone == "." else zone
    return (
        f"{zone} {SOA_MINIMUM} IN SOA ns.{origin or 'root.test.'} hostmaster.{origin or 'test.'} "
        f"1 3600 600 86400 {SOA_MINIMUM}"
    )


BIG_TXT_STRINGS: tuple[str, ...] = tuple(
    f"big-{i:02d} padding that makes the RRset larger than 1232 bytes" for i in range(BIG_TXT_COUNT)
)

# Records unbound serves. Names that resolve here but are not blocked by a test's lists prove
# that dnsfence forwards; CNAMEs are returned by unbound without chasing the target.
LOCAL_DATA: tuple[str, ...] = (
    *(_soa(zone) for zone, _ in LOCAL_ZONES),
    "www.example.test. 300 IN A 192.0.2.10",
    "www.example.test. 300 IN AAAA 2001:db8::10",
    "short.example.test. 5 IN A 192.0.2.11",
    "mail.example.test. 300 IN MX 10 mx.example.test.",
    "mx.example.test. 300 IN A 192.0.2.25",
    'txt.example.test. 300 IN TXT "v=dnsfence-test hello"',
    *(f'big.example.test. 300 IN TXT "{text}"' for text in BIG_TXT_STRINGS),
    "alias.example.test. 300 IN CNAME www.example.test.",
    "cloaked.example.test. 300 IN CNAME www.tiktok.com.",
    "example.com. 300 IN A 192.0.2.30",
    "www.example.com. 300 IN A 192.0.2.31",
    "tiktok.com. 300 IN A 192.0.2.40",
    "tiktok.com. 300 IN AAAA 2001:db8::40",
    "www.tiktok.com. 300 IN A 192.0.2.41",
    "newsroom.tiktok.com. 300 IN A 192.0.2.42",
    "api.byteoversea.com. 300 IN A 192.0.2.50",
)


AUTH_ZONE = "chains.test."
"""A zone unbound serves as an authority (an auth-zone, not local data), so that it follows
CNAMEs inside the zone and synthesises a CNAME from a DNAME, as real authorities do: local
data answers a CNAME alone."""
AUTH_ZONE_DATA: tuple[str, ...] = (
    f"{AUTH_ZONE} 3600 IN SOA ns.{AUTH_ZONE} hostmaster.{AUTH_ZONE} 1 3600 600 86400 "
    f"{SOA_MINIMUM}",
    f"{AUTH_ZONE} 3600 IN NS ns.{AUTH_ZONE}",
    f"ns.{AUTH_ZONE} 300 IN A 192.0.2.53",
    f"two.{AUTH_ZONE} 300 IN CNAME hop.{AUTH_ZONE}",  # a two-step chain into www.tiktok.com
    f"hop.{AUTH_ZONE} 300 IN CNAME www.tiktok.com.",
    f"mirror.{AUTH_ZONE} 300 IN DNAME tiktok.com.",  # anything.mirror.chains.test -> tiktok.com
    f"soon.{AUTH_ZONE} 300 IN CNAME cdn.soon.example.com.",  # into a name blocked later
)


def auth_zone_file(directory: Path) -> Path:
    """Write the AUTH_ZONE zone file that `unbound_config` names, in `directory`."""
    path = directory / f"{AUTH_ZONE}zone"
    path.write_text("".join(f"{rr}\n" for rr in AUTH_ZONE_DATA))
    return path


def unbound_config(
    *, port: int, directory: Path, extra_server_lines: Iterable[str] = (), log_queries: bool = True
) -> str:
    """An unbound.conf that serves LOCAL_DATA on 127.0.0.1:`port` and never recurses."""
    d = str(directory)
    server = [
        f"interface: {LOOPBACK}",
        f"port: {port}",
        "do-ip4: yes",
        "do-ip6: no",
        "do-udp: yes",
        "do-tcp: yes",
        # Without SO_REUSEPORT a second process on the same port fails loudly instead of
        # silently sharing our traffic.
        "so-reuseport: no",
        'chroot: ""',
        'username: ""',
        f'directory: "{d}"',
        f'pidfile: "{d}/unbound.pid"',
        "use-syslog: no",
        f'logfile: "{d}/unbound.log"',
        f"log-queries: {'yes' if log_queries else 'no'}",
        "verbosity: 1",
        "num-threads: 1",
        'module-config: "iterator"',
        "access-control: 127.0.0.0/8 allow",
        "do-not-query-localhost: yes",
        "qname-minimisation: no",
        "prefetch: no",
        *(f'local-zone: "{zone}" {kind}' for zone, kind in LOCAL_ZONES),
        *(f"local-data: '{rr}'" for rr in LOCAL_DATA),
        f'local-zone: "{AUTH_ZONE}" transparent',  # past the root's static zone to the auth-zone
        *extra_server_lines,
    ]
    body = "".join(f"    {line}\n" for line in server)
    auth = (f'auth-zone:\n    name: "{AUTH_ZONE}"\n    zonefile: "{d}/{AUTH_ZONE}zone"\n'
            "    for-downstream: yes\n    for-upstream: no\n    fallback-enabled: no\n")
    return f"server:\n{body}{auth}remote-control:\n    control-enable: no\n"


class UnboundError(RuntimeError):
    """Unbound did not start; the message carries its log."""


class Unbound:
    """Debian's unbound in the foreground (``unbound -d``), serving LOCAL_DATA on loopback."""

    def __init__(
        self,
        workdir: Path,
        *,
        extra_server_lines: Sequence[str] = (),
        ready_timeout: float = 10.0,
        attempts: int = 5,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """`tls`: (certificate PEM, key PEM) to serve DNS over TLS on `tls_port` as well,
        logging each TLS connection and query (verbosity 4; see `tls_connections`)."""
        self.workdir = Path(workdir)
        self.extra_server_lines = tuple(extra_server_lines)
        self.ready_timeout = ready_timeout
        self.attempts = attempts
        self.tls = tls
        self.host = LOOPBACK
        self.port = 0
        self.tls_port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return format_address(self.host, self.port)

    @property
    def config_path(self) -> Path:
        return self.workdir / "unbound.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "unbound.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Self:
        binary = require_tool("unbound")
        self.workdir.mkdir(parents=True, exist_ok=True)
        failures: list[str] = []
        for _ in range(self.attempts):
            self.port = free_port(self.host)
            auth_zone_file(self.workdir)
            self.config_path.write_text(
                unbound_config(
                    port=self.port,
                    directory=self.workdir,
                    extra_server_lines=(*self._tls_lines(), *self.extra_server_lines),
                )
            )
            self.log_path.unlink(missing_ok=True)
            stderr_path = self.workdir / "unbound.stderr"
            with stderr_path.open("wb") as stderr:
                self._proc = subprocess.Popen(
                    [binary, "-d", "-c", str(self.config_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=stderr,
                    stderr=stderr,
                    cwd=self.workdir,
                )
            if self._wait_ready():
                return self
            _terminate(self._proc, 2.0, group=False)
            failures.append(f"port {self.port}:\n{self._diagnostics(stderr_path)}")
        raise UnboundError(
            f"unbound did not answer within {self.ready_timeout:g}s in {self.attempts} attempts "
            f"(config {self.config_path}):\n" + "\n".join(failures)
        )

    def _tls_lines(self) -> list[str]:
        if self.tls is None:
            return []
        certificate, key = self.tls
        self.tls_port = free_port(self.host)
        return [f"interface: {self.host}@{self.tls_port}", f"tls-port: {self.tls_port}",
                f'tls-service-pem: "{certificate}"', f'tls-service-key: "{key}"',
                "verbosity: 4"]

    @property
    def tls_address(self) -> str:
        """``tls://HOST:PORT`` of the DNS-over-TLS service (add ``#NAME``)."""
        return f"tls://{format_address(self.host, self.tls_port)}"

    def tls_connections(self) -> list[int]:
        """The client ports of the TLS connections unbound accepted, in order."""
        pattern = re.compile(r"debug: SSL connection ip[46] \S+ port (\d+)")
        return [int(m[1]) for line in self.log_lines() if (m := pattern.search(line))]

    def tls_queries(self) -> list[int]:
        """The length of each query unbound read over TLS, in order."""
        pattern = re.compile(r"debug: Reading ssl tcp query of length (\d+)")
        return [int(m[1]) for line in self.log_lines() if (m := pattern.search(line))]

    def tls_refusals(self) -> int:
        """TLS handshakes that failed (the client hung up, e.g. refusing the certificate)."""
        return sum("ssl handshake failed" in line for line in self.log_lines())

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if not self.running:
                return False  # most often: the port was taken between probe and bind
            try:
                reply = self.query("www.example.test", "A", timeout=0.25)
            except (OSError, dns.exception.DNSException):
                time.sleep(0.05)
                continue
            if addresses_in(reply):
                return True
        return False

    def _diagnostics(self, stderr_path: Path) -> str:
        parts = []
        for path in (stderr_path, self.log_path):
            if path.exists():
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts) or "(no output)"

    def query(self, name: str, rdtype: RdType = "A", **kwargs: Any) -> dns.message.Message:
        """`query` against this unbound; keyword arguments as for the module function."""
        return query(self.host, self.port, name, rdtype, **kwargs)

    def dig(self, *args: str) -> subprocess.CompletedProcess[str]:
        return dig(self.host, self.port, *args)

    def log_lines(self) -> list[str]:
        if not self.log_path.exists():
            return []
        return self.log_path.read_text(errors="replace").splitlines()

    def query_count(self, name: str, rdtype: str | None = None) -> int:
        """How many queries for `name` (of `rdtype`, or any type) unbound has received.

        Counted from unbound's ``log-queries`` lines (``info: 127.0.0.1 NAME. TYPE IN``). The
        instance may be shared by a whole session: compare counts before and after, and allow
        for the log being written just after the answer (see `wait_for_query_count`).
        """
        fqdn = name.rstrip(".").lower() + "."
        type_part = re.escape(rdtype.upper()) if rdtype else r"\S+"
        pattern = re.compile(rf"\binfo: \S+ {re.escape(fqdn)} {type_part} IN$", re.IGNORECASE)
        return sum(1 for line in self.log_lines() if pattern.search(line))

    def wait_for_query_count(
        self, name: str, at_least: int, rdtype: str | None = None, *, timeout: float = 2.0
    ) -> int:
        """Wait until `query_count` reaches `at_least`; returns the count (may be larger)."""
        wait_until(
            lambda: self.query_count(name, rdtype) >= at_least,
            timeout=timeout,
            what=f"unbound to log {at_least} queries for {name} {rdtype or ''}",
        )
        return self.query_count(name, rdtype)

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, wait up to `timeout` s, then SIGKILL. Returns the exit code."""
        if self._proc is None:
            return None
        return _terminate(self._proc, timeout, group=False)

    def restart(self) -> Self:
        """Start again after `stop`, on the same port with the same config: an upstream
        that comes back. Raises UnboundError if the port was taken meanwhile."""
        if self.running or not self.port:
            raise RuntimeError("restart() is for an unbound that was started, then stopped")
        stderr_path = self.workdir / "unbound.stderr"
        with stderr_path.open("ab") as stderr:
            self._proc = subprocess.Popen(
                [require_tool("unbound"), "-d", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr, cwd=self.workdir)
        if not self._wait_ready():
            _terminate(self._proc, 2.0, group=False)
            raise UnboundError(f"unbound did not come back on port {self.port}:\n"
                               + self._diagnostics(stderr_path))
        return self

    def __enter__(self) -> Self:
        return self if self.running else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# dnsfence serve
# --------------------------------------------------------------------------------------------

HTTP_RE = re.compile(r"http on (?P<addr>\S+) \(/metrics")
SERVING_RE = re.compile(r"serving on (?P<addrs>\S+(?:, \S+)*) \(udp\+tcp\)")
DNSFENCE_PROGRAM: tuple[str, ...] = (sys.executable, "-m", "resolver")


def parse_serving_line(line: str) -> list[tuple[str, int]] | None:
    """The addresses announced by a ``serving on A, B (udp+tcp)`` line, or None."""
    match = SERVING_RE.search(line)
    if match is None:
        return None
    return [parse_address(part) for part in match["addrs"].split(", ")]


def child_env(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment plus unbuffered output and the repository on the import path."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    if overrides:
        env.update(overrides)
    return env


class Unset(enum.Enum):
    """An option left to the fixture's default (None means: leave the option out)."""

    UNSET = enum.auto()


UNSET = Unset.UNSET


class DnsfenceError(RuntimeError):
    """``dnsfence serve`` did not become ready; the message carries its argv and stderr."""


class Dnsfence:
    """``python -m resolver serve`` as a child process, ready once it prints its addresses.

    `listen`, `upstream` and `blocklists` become ``--listen``/``--upstream``/``--blocklists``;
    pass None to leave one out (e.g. when `extra` holds ``--config``). `workers` becomes
    ``--workers`` unless `extra` gives it; it defaults to 1 because most tests ask one
    process several things in turn (a cache hit, a counter), while the server's own default
    is one worker per CPU. None leaves it to the config file and that default. `http`
    becomes ``--http-listen`` (an ephemeral loopback port, so servers never collide on
    9153) unless `extra` gives it; None leaves it to the config.
    """

    def __init__(
        self,
        upstream: str | None,
        blocklists: str | os.PathLike[str] | None,
        extra: Sequence[str] = (),
        *,
        listen: str | None = "127.0.0.1:0",
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] = REPO_ROOT,
        ready_timeout: float = 10.0,
        program: Sequence[str] = DNSFENCE_PROGRAM,
        workers: str | None = "1",
        http: str | None = "127.0.0.1:0",
        state_dir: str | os.PathLike[str] | Unset | None = UNSET,
    ) -> None:
        argv = [*program, "serve"]
        if workers is not None and "--workers" not in extra:
            argv += ["--workers", workers]
        if listen is not None:
            argv += ["--listen", listen]
        if upstream is not None:
            argv += ["--upstream", upstream]
        if blocklists is not None:
            argv += ["--blocklists", os.fspath(blocklists)]
        if http is not None and "--http-listen" not in extra:
            argv += ["--http-listen", http]
        self.state_dir: Path | None = None
        self._own_state_dir = False
        """The server's own state directory (query log), made for it unless `extra` or
        `state_dir=None` says otherwise; removed when it stops."""
        if state_dir is not None and "--state-dir" not in extra:
            self._own_state_dir = isinstance(state_dir, Unset)
            self.state_dir = Path(tempfile.mkdtemp(prefix="dnsfence-state.")) \
                if isinstance(state_dir, Unset) else Path(state_dir)
            argv += ["--state-dir", str(self.state_dir)]
        self.argv: list[str] = [*argv, *extra]
        self.env = child_env(env)
        self.cwd = cwd
        self.ready_timeout = ready_timeout
        self.addresses: list[tuple[str, int]] = []
        self.http_address: tuple[str, int] | None = None
        """Where /metrics and /healthz are served (from the ``http on`` line), if anywhere."""
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: _LineCollector | None = None
        self._stdout: _LineCollector | None = None
        self._stderr_cursor = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the server and wait (bounded) for its ``serving on`` line."""
        if self._proc is not None:
            raise RuntimeError("this Dnsfence was already started")
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
            cwd=self.cwd,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,  # its own process group, so stop() can reap workers
        )
        self._stderr = _LineCollector(self._proc.stderr, f"dnsfence-stderr-{self._proc.pid}")
        self._stdout = _LineCollector(self._proc.stdout, f"dnsfence-stdout-{self._proc.pid}")
        match, self._stderr_cursor = self._stderr.wait_for(
            SERVING_RE, start=0, timeout=self.ready_timeout
        )
        if match is None:
            exited_early = self._proc.poll() is not None or self._stderr.closed
            returncode = self.stop(timeout=2.0)
            reason = (
                f"exited with code {returncode} before it was ready"
                if exited_early
                else f"printed no 'serving on ... (udp+tcp)' line within {self.ready_timeout:g}s"
            )
            raise DnsfenceError(
                f"dnsfence {reason}\nargv: {self.argv}\n--- stderr:\n"
                + "\n".join(self.stderr_lines())
                + "\n--- stdout:\n"
                + "\n".join(self.stdout_lines())
            )
        self.addresses = [parse_address(part) for part in match["addrs"].split(", ")]
        for line in self._stderr.lines():  # announced before the "serving on" line
            found = HTTP_RE.search(line)
            if found:
                self.http_address = parse_address(found["addr"])
        return self

    @property
    def pid(self) -> int:
        return self._require_proc().pid

    @property
    def host(self) -> str:
        return self._first_address()[0]

    @property
    def port(self) -> int:
        return self._first_address()[1]

    @property
    def address(self) -> str:
        return format_address(*self._first_address())

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def send_signal(self, sig: int) -> None:
        """Signal the server's main process only (e.g. SIGHUP to reload)."""
        self._require_proc().send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Exit code once the process ends; raises subprocess.TimeoutExpired after `timeout` s."""
        returncode = self._require_proc().wait(timeout)
        self._join_readers()
        return returncode

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, wait up to `timeout` s, then SIGKILL its process group. Idempotent."""
        if self._proc is None:
            return None
        returncode = _terminate(self._proc, timeout, group=True)
        self._join_readers()
        return returncode

    def remove_state_dir(self) -> None:
        """Remove the state directory the harness made for this server (after `stop`)."""
        if self._own_state_dir and self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def _join_readers(self) -> None:
        for reader in (self._stderr, self._stdout):
            if reader is not None:
                reader.join(2.0)

    def __enter__(self) -> Self:
        return self if self._proc is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- output ----------------------------------------------------------------------------

    def stderr_lines(self) -> list[str]:
        return [] if self._stderr is None else self._stderr.lines()

    def stdout_lines(self) -> list[str]:
        return [] if self._stdout is None else self._stdout.lines()

    def wait_for_stderr(
        self, pattern: str | re.Pattern[str], timeout: float = 5.0, *, since_start: bool = False
    ) -> re.Match[str]:
        """Wait for a stderr line matching `pattern` and return its match.

        Each call looks only at lines after the previous call's match (after the ``serving
        on`` line at first), so ``send_signal(SIGHUP); wait_for_stderr("reloaded")`` cannot
        be satisfied by an older line. `since_start` searches from the first line instead.
        """
        if self._stderr is None:
            raise RuntimeError("dnsfence was not started")
        compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
        start = 0 if since_start else self._stderr_cursor
        match, cursor = self._stderr.wait_for(compiled, start=start, timeout=timeout)
        if match is None:
            raise TimeoutError(
                f"no stderr line matching {compiled.pattern!r} within {timeout:g}s "
                f"(process {'running' if self.running else 'exited'}); stderr:\n"
                + "\n".join(self.stderr_lines())
            )
        self._stderr_cursor = cursor
        return match

    # -- queries ---------------------------------------------------------------------------

    def query(
        self,
        name: str,
        rdtype: RdType = "A",
        *,
        tcp: bool = False,
        edns: bool = True,
        dnssec: bool = False,
        timeout: float = 2.0,
        **kwargs: Any,
    ) -> dns.message.Message:
        """One dnspython query to the first announced address."""
        return query(
            self.host,
            self.port,
            name,
            rdtype,
            tcp=tcp,
            edns=edns,
            dnssec=dnssec,
            timeout=timeout,
            **kwargs,
        )

    def dig(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The real ``dig @HOST -p PORT +time=2 +tries=1 ARGS``."""
        return dig(self.host, self.port, *args)

    def status_json(self) -> dict[str, Any]:
        """What the real ``dnsfence status --server ... --json`` prints for this server."""
        result = run_dnsfence("status", "--server", self.address, "--json", timeout=10)
        assert result.stdout, result.stderr
        found: dict[str, Any] = json.loads(result.stdout)
        return found

    # -- HTTP ------------------------------------------------------------------------------

    def http_get(self, path: str, timeout: float = 5.0) -> tuple[int, str]:
        """GET `path` (``/healthz``, ``/metrics?...``) from the server's HTTP listener:
        the status and the body, for an error status too (a 503 says why)."""
        if self.http_address is None:
            raise RuntimeError("the server announced no HTTP listener")
        host, port = self.http_address
        try:
            with urllib.request.urlopen(f"http://{host}:{port}{path}",
                                        timeout=timeout) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as error:
            return int(error.code), error.read().decode()

    # -- internals -------------------------------------------------------------------------

    def _require_proc(self) -> subprocess.Popen[str]:
        if self._proc is None:
            raise RuntimeError("dnsfence was not started")
        return self._proc

    def _first_address(self) -> tuple[str, int]:
        if not self.addresses:
            raise RuntimeError("dnsfence is not serving (not started, or start failed)")
        return self.addresses[0]


def run_dnsfence(
    *args: str,
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] = REPO_ROOT,
    program: Sequence[str] = DNSFENCE_PROGRAM,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m resolver ARGS`` to completion (commands that exit, or startup errors)."""
    return subprocess.run(
        [*program, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=child_env(env),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


# --------------------------------------------------------------------------------------------
# Blocklists
# --------------------------------------------------------------------------------------------

Effective = dt.date | dt.datetime | str


def _yaml_effective(value: Effective) -> dt.date | dt.datetime | str:
    """Dates and datetimes stay YAML timestamps (unquoted), as an admin would write them."""
    if isinstance(value, dt.date):  # dt.datetime is a subclass
        return value
    for parse in (dt.date.fromisoformat, dt.datetime.fromisoformat):
        try:
            return parse(value)
        except ValueError:
            continue
    return value  # deliberately malformed input is written as a string


class BlocklistDir:
    """A directory of blocklist YAML files; usable wherever a path is (``os.fspath``).

    Files are replaced atomically, so a server watching the directory never reads half a file.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)

    def file_for(self, name: str) -> Path:
        return self.path / (name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")

    def write(
        self,
        name: str,
        *,
        domains: Sequence[str],
        effective: Effective,
        allow: Sequence[str] = (),
        reference: str | None = None,
        timezone: str | None = None,
        filename: str | None = None,
        **extra: Any,
    ) -> Path:
        """Write list `name` to ``NAME.yaml`` (or `filename`) and return its path.

        Keys with value None are left out; `extra` adds further top-level keys.
        """
        document: dict[str, Any] = {
            "name": name,
            "reference": reference if reference is not None else f"test list {name}",
            "effective": _yaml_effective(effective),
            "timezone": timezone,
            "domains": list(domains),
        }
        if allow:
            document["allow"] = list(allow)
        document.update(extra)
        document = {key: value for key, value in document.items() if value is not None}
        text = yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
        return self.write_text(filename or name, text)

    def write_text(self, filename: str, text: str) -> Path:
        """Write raw text (e.g. an invalid list) atomically; ``.yaml`` is added if missing."""
        target = self.file_for(filename)
        scratch = target.with_name(f".{target.name}.tmp")
        scratch.write_text(text)
        os.replace(scratch, target)
        return target

    def remove(self, name: str) -> None:
        self.file_for(name).unlink()

    def files(self) -> list[Path]:
        return sorted(p for p in self.path.iterdir() if not p.name.startswith("."))


# --------------------------------------------------------------------------------------------
# Fixture signatures (the fixtures live in conftest.py; tests annotate with these)
# --------------------------------------------------------------------------------------------


BlocklistsArg = BlocklistDir | str | Path | None | Unset
UpstreamArg = str | None | Unset


class UnboundFactory(Protocol):
    """The `unbound_factory` fixture: starts a private unbound, stopped at teardown."""

    def __call__(self, *, extra_server_lines: Sequence[str] = ()) -> Unbound: ...


class DnsfenceFactory(Protocol):
    """The `dnsfence_factory` fixture: starts ``dnsfence serve``, stopped at teardown."""

    def __call__(
        self,
        *extra: str,
        blocklists: BlocklistsArg = UNSET,
        upstream: UpstreamArg = UNSET,
        listen: str | None = "127.0.0.1:0",
        env: Mapping[str, str] | None = None,
        ready_timeout: float = 10.0,
        program: Sequence[str] = DNSFENCE_PROGRAM,
        workers: str | None = "1",
        http: str | None = "127.0.0.1:0",
        state_dir: str | os.PathLike[str] | Unset | None = UNSET,
    ) -> Dnsfence: ...
