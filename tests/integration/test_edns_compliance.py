"""DNS-level behaviour beside Unbound as a forwarder, probe by probe as ISC's EDNS
compliance tester (ednscomp / genreport) asks: both servers forward to the same upstream,
and for each probe the header flags, RCODE, EDNS version, flags and echoed options must
agree. Blocked names are compared with Unbound's `always_nxdomain` local zone.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from .harness import Dnsfence, DnsfenceFactory, Unbound, free_port, require_tool


@dataclass
class ForwardingUnbound:
    host: str
    port: int
    proc: subprocess.Popen[bytes]


def _forwarder_config(tmp_path: Path, port: int, upstream_port: int) -> str:
    return f"""server:
    interface: 127.0.0.1
    port: {port}
    do-ip6: no
    so-reuseport: no
    chroot: ""
    username: ""
    directory: "{tmp_path}"
    pidfile: "{tmp_path}/fwd.pid"
    use-syslog: no
    logfile: "{tmp_path}/fwd.log"
    num-threads: 1
    module-config: "iterator"
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    qname-minimisation: no
    local-zone: "tiktok.com." always_nxdomain
    # unbound answers RFC 6761 names (test., invalid., ...) itself by default; forward them
    local-zone: "test." nodefault
remote-control:
    control-enable: no
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@{upstream_port}
"""


def _answers(port: int, proc: subprocess.Popen[bytes]) -> bool:
    """True once the forwarder at `port` answers the probe name with an address.

    Anything else (no answer yet, or an answer from whichever process held the ephemeral
    port before unbound bound it) means "not yet"; a dead process means "never".
    """
    if proc.poll() is not None:
        return False
    query = dns.message.make_query("www.example.test", "A")
    try:
        reply = dns.query.udp(query, "127.0.0.1", port=port, timeout=0.3,
                              ignore_unexpected=True)
    except (dns.exception.DNSException, OSError):
        return False
    return any(rrset.rdtype == dns.rdatatype.A for rrset in reply.answer)


@pytest.fixture
def unbound_forwarder(unbound: Unbound, tmp_path: Path) -> Iterator[ForwardingUnbound]:
    """A second unbound that forwards everything to the test upstream.

    The port comes from `free_port`, which another process may take before unbound binds
    it; then unbound exits (or a stranger answers) and a fresh port is tried.
    """
    binary = require_tool("unbound")
    conf = tmp_path / "forwarder.conf"
    for _attempt in range(5):
        port = free_port()
        conf.write_text(_forwarder_config(tmp_path, port, unbound.port))
        proc = subprocess.Popen([binary, "-d", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            if _answers(port, proc):
                break
            time.sleep(0.05)
        else:
            proc.kill()
            proc.wait(5)
            continue
        break
    else:
        pytest.fail("the forwarding unbound did not start on any of 5 ports; "
                    f"its log: {(tmp_path / 'fwd.log').read_text(errors='replace')[-2000:]}"
                    if (tmp_path / "fwd.log").exists() else
                    "the forwarding unbound did not start on any of 5 ports (no log)")
    try:
        yield ForwardingUnbound("127.0.0.1", port, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def fence(dnsfence_factory: DnsfenceFactory, blocklists_dir: object) -> Dnsfence:
    blocklists_dir.write("tiktok", domains=["tiktok.com"], effective="2023-03-20",  # type: ignore[attr-defined]
                         reference="test")
    return dnsfence_factory()


Probe = Callable[[], dns.message.Message]


def _query(name: str = "www.example.test", rdtype: str = "A", **kw: object) -> dns.message.Message:
    return dns.message.make_query(name, rdtype, **kw)  # type: ignore[arg-type]


def _with_flags(msg: dns.message.Message, add: int = 0, ednsflags: int = 0) -> dns.message.Message:
    msg.flags |= add
    if ednsflags:
        msg.use_edns(msg.edns, msg.ednsflags | ednsflags, msg.payload, options=msg.options)
    return msg


PROBES: dict[str, Callable[[str], dns.message.Message]] = {
    "dns": lambda n: _query(n, use_edns=False),
    "edns": lambda n: _query(n, use_edns=0),
    "edns1": lambda n: _query(n, use_edns=1),
    "ednsopt": lambda n: _query(n, use_edns=0, options=[dns.edns.GenericOption(100, b"")]),
    "edns1opt": lambda n: _query(n, use_edns=1, options=[dns.edns.GenericOption(100, b"")]),
    "do": lambda n: _query(n, use_edns=0, want_dnssec=True),
    "ednsflags": lambda n: _with_flags(_query(n, use_edns=0), ednsflags=0x0080),
    "optlist": lambda n: _query(n, use_edns=0, options=[
        dns.edns.GenericOption(3, b""),  # NSID
        dns.edns.ECSOption("192.0.2.0", 24),
        dns.edns.GenericOption(9, b""),  # EXPIRE
    ]),
    "zflag": lambda n: _with_flags(_query(n, use_edns=0), add=0x0040),
    "type666": lambda n: _query(n, "TYPE666", use_edns=0),
    "cd": lambda n: _with_flags(_query(n, use_edns=0), add=dns.flags.CD),
    "ad": lambda n: _with_flags(_query(n, use_edns=0), add=dns.flags.AD),
    # what a forwarder answers itself: unknown opcodes, NOTIFY, zone transfers, meta-classes
    "opcode3": lambda n: _with_opcode(_query(n, use_edns=0), 3),
    "opcode3cd": lambda n: _with_opcode(_with_flags(_query(n, use_edns=0), add=dns.flags.CD), 3),
    "notify": lambda n: _with_opcode(_query(n, "SOA", use_edns=0), dns.opcode.NOTIFY),
    "update": lambda n: _with_opcode(_query(n, "SOA", use_edns=0), dns.opcode.UPDATE),
    "axfr": lambda n: _query(n, "AXFR", use_edns=0),
    "ixfr": lambda n: _query(n, "IXFR", use_edns=0),
    "class0": lambda n: _query(n, "A", rdclass=0, use_edns=0),
    "classany": lambda n: _query(n, "A", rdclass="ANY", use_edns=0),
    "classnone": lambda n: _query(n, "A", rdclass="NONE", use_edns=0),
    "qdcount2": lambda n: _two_questions(_query(n, use_edns=0)),
    "qdcount2dns": lambda n: _two_questions(_query(n, use_edns=False)),
}


def _with_opcode(msg: dns.message.Message, opcode: int) -> dns.message.Message:
    msg.set_opcode(opcode)
    return msg


def _two_questions(msg: dns.message.Message) -> dns.message.Message:
    msg.question.append(dns.rrset.RRset(dns.name.from_text("mail.example.test"),
                                        dns.rdataclass.IN, dns.rdatatype.A))
    return msg


def _ask(msg: dns.message.Message, host: str, port: int, tcp: bool) -> dns.message.Message:
    wire = msg.to_wire()
    if tcp:
        sock = socket.create_connection((host, port), timeout=3)
        with sock:
            sock.sendall(len(wire).to_bytes(2, "big") + wire)
            size = int.from_bytes(_read(sock, 2), "big")
            data = _read(sock, size)
    else:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(3)
            sock.sendto(wire, (host, port))
            data = sock.recv(65_535)
    # read as is: an error answer to a bad question may carry no question at all
    return dns.message.from_wire(data, ignore_trailing=True, question_only=False)


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed early")
        data += chunk
    return data


def _shape(reply: dns.message.Message) -> dict[str, object]:
    """What ednscomp looks at: header flags, RCODE, EDNS version/flags, echoed options, and
    the opcode echoed."""
    options = sorted(int(o.otype) for o in reply.options
                     if int(o.otype) not in (15,))  # our EDE is extra information
    return {
        "rcode": dns.rcode.to_text(reply.rcode()),
        "flags": dns.flags.to_text(reply.flags & ~dns.flags.AA),
        "aa": bool(reply.flags & dns.flags.AA),
        "z": reply.flags & 0x0040,
        "edns": reply.edns,
        "ednsflags": dns.flags.edns_to_text(reply.ednsflags),
        "options": options,
        "question": [(q.name.to_text().lower(), q.rdtype, q.rdclass) for q in reply.question],
        "opcode": reply.opcode(),
    }


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("probe", sorted(PROBES))
@pytest.mark.parametrize("name", ["www.example.test", "tiktok.com"], ids=["forwarded", "blocked"])
def test_probe_matches_unbound(fence: Dnsfence, unbound_forwarder: ForwardingUnbound,
                               probe: str, name: str, tcp: bool) -> None:
    ours = _shape(_ask(PROBES[probe](name), fence.host, fence.port, tcp))
    theirs = _shape(_ask(PROBES[probe](name), unbound_forwarder.host, unbound_forwarder.port, tcp))
    if name == "tiktok.com":
        # Unbound's local zone answers authoritatively; dnsfence is a forwarder and is not.
        theirs["aa"] = ours["aa"]
    assert ours == theirs


def test_edns_at_512_truncates_like_unbound(fence: Dnsfence,
                                            unbound_forwarder: ForwardingUnbound) -> None:
    for host, port in ((fence.host, fence.port), (unbound_forwarder.host, unbound_forwarder.port)):
        msg = dns.message.make_query("big.example.test", "TXT", use_edns=0, payload=512)
        reply = dns.query.udp(msg, host, port=port, timeout=3, ignore_trailing=True)
        assert reply.flags & dns.flags.TC, (host, port)
        assert reply.edns == 0


def test_servers_stay_up(fence: Dnsfence) -> None:
    # a raw header-only packet with QDCOUNT=0 and a 1-byte junk packet, then a normal query
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"\x00\x01\x01\x00" + b"\x00" * 8, (fence.host, fence.port))
        sock.sendto(b"\x00", (fence.host, fence.port))
    time.sleep(0.1)
    assert fence.query("tiktok.com").rcode() == dns.rcode.NXDOMAIN
