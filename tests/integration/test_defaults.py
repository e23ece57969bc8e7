"""`dnsfence serve` with no configuration at all, as `make run` starts it."""

from __future__ import annotations

import socket
from pathlib import Path

import dns.rcode
import pytest

from resolver.config.endpoints import Endpoint, parse_endpoint, resolv_conf_servers

from .harness import REPO_ROOT, Dnsfence, DnsfenceError, run_dnsfence


def _port_free(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def test_no_arguments_serves_shipped_lists_on_5353() -> None:
    if not _port_free(5353):
        pytest.skip("127.0.0.1:5353 is in use on this machine")
    server = Dnsfence(upstream=None, blocklists=None, listen=None, cwd=REPO_ROOT)
    try:
        server.start()
    except DnsfenceError as exc:
        if "no upstream resolver" in str(exc):
            pytest.skip("this machine's /etc/resolv.conf names no nameserver")
        raise
    try:
        assert (server.host, server.port) == ("127.0.0.1", 5353)
        line = next(x for x in server.stderr_lines() if "serving on" in x)
        assert "2 lists," in line and "67 of 67 entries active" in line
        expected = resolv_conf_servers(exclude=(Endpoint("127.0.0.1", 5353),))
        assert "upstreams " + ", ".join(str(e) for e in expected) in line
        # Only a blocked name is asked: nothing may reach the machine's real resolvers.
        reply = server.query("www.tiktok.com", tcp=False)
        assert reply.rcode() == dns.rcode.NXDOMAIN
        assert server.query("tiktok.com", tcp=True).rcode() == dns.rcode.NXDOMAIN
    finally:
        assert server.stop() == 0


def test_resolv_conf_servers_skip_dnsfence_itself(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# generated\nsearch office.example\nnameserver 127.0.0.1\n"
                    "nameserver 192.0.2.53\nnameserver fe80::1%eth0\nnameserver ::1\n"
                    "nameserver not-an-ip\noptions edns0\n")
    everything = resolv_conf_servers(conf)
    assert [str(e) for e in everything] == ["127.0.0.1:53", "192.0.2.53:53", "[fe80::1]:53",
                                           "[::1]:53"]
    on_53 = resolv_conf_servers(conf, exclude=(parse_endpoint("0.0.0.0:53", 53),
                                               parse_endpoint("[::]:53", 53)))
    assert [str(e) for e in on_53] == ["192.0.2.53:53", "[fe80::1]:53"]
    elsewhere = resolv_conf_servers(conf, exclude=(parse_endpoint("127.0.0.1:5353", 53),))
    assert len(elsewhere) == 4
    assert resolv_conf_servers(tmp_path / "missing") == ()


def test_unbindable_listen_address_is_a_clear_error(tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    # 192.0.2.1 is not an address of this machine: bind fails, nothing is sent anywhere.
    result = run_dnsfence("serve", "--blocklists", str(lists),
                          "--listen", "192.0.2.1:53", "--upstream", "127.0.0.1:9", timeout=20)
    assert result.returncode == 1
    assert "cannot listen" in result.stderr
    assert "Traceback" not in result.stderr
