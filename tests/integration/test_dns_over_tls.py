"""DNS over TLS upstreams against a real unbound serving DNS over TLS on loopback, with a
certificate from a test CA made here: answers arrive over one reused connection; a wrong
name or an untrusted certificate is refused with one clear log line and SERVFAIL, and
nothing goes to the server in plain text.

Connections and queries are counted at the server: unbound (verbosity 4) logs each TLS
connection it accepts, with the client's port, and each query it reads over TLS.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import dns.asyncquery
import dns.message
import dns.rcode
import pytest

from tests.upstream.certificates import SERVER_NAME, ServerFiles, authority, server_files

from .harness import (
    Dnsfence,
    DnsfenceFactory,
    Unbound,
    addresses_in,
    rcode_name,
    wait_until,
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> ServerFiles:
    return server_files(tmp_path_factory.mktemp("pki"), authority())


@pytest.fixture
def tls_unbound(tmp_path: Path, pki: ServerFiles) -> Iterator[Unbound]:
    """A private unbound (counts start at zero) serving DNS over TLS too, closing a TLS
    connection after 5 s of silence (dnsfence's own idle timeout is 10 s)."""
    server = Unbound(tmp_path / "unbound-tls", tls=(pki.certificate, pki.key),
                     extra_server_lines=["tcp-idle-timeout: 5000"]).start()
    try:
        yield server
    finally:
        server.stop()


def config_with_ca(tmp_path: Path, ca: Path | None) -> list[str]:
    """`--config` naming `ca` as upstream.ca_file (none: the system's CAs)."""
    path = tmp_path / "dnsfence.yaml"
    path.write_text(f"upstream:\n  ca_file: {ca}\n" if ca else "{}\n")
    return ["--config", str(path)]


def start(factory: DnsfenceFactory, tmp_path: Path, *upstreams: str,
          ca: Path | None) -> Dnsfence:
    """dnsfence forwarding to `upstreams` (each a --upstream) with `ca` as its CA file."""
    extra = [argument for upstream in upstreams[1:] for argument in ("--upstream", upstream)]
    return factory(*config_with_ca(tmp_path, ca), *extra, upstream=upstreams[0])


def ask_many(server: Dnsfence, names: list[str], concurrency: int = 50) -> list[str]:
    """The RCODEs of one UDP query per name, `concurrency` queries in flight at once."""
    async def run() -> list[str]:
        slots = asyncio.Semaphore(concurrency)

        async def one(name: str) -> str:
            async with slots:
                query = dns.message.make_query(name, "A")
                reply = await dns.asyncquery.udp(query, server.host, port=server.port,
                                                 timeout=5.0)
                return dns.rcode.to_text(reply.rcode())
        return await asyncio.gather(*(one(name) for name in names))
    return asyncio.run(run())


def test_answers_arrive_over_tls_and_many_queries_share_one_connection(
        dnsfence_factory: DnsfenceFactory, tls_unbound: Unbound, pki: ServerFiles,
        tmp_path: Path) -> None:
    upstream = f"{tls_unbound.tls_address}#{SERVER_NAME}"
    server = start(dnsfence_factory, tmp_path, upstream, ca=pki.ca)
    reply = server.query("www.example.test")
    assert rcode_name(reply) == "NOERROR" and addresses_in(reply) == ["192.0.2.10"]
    over_tcp = server.query("www.example.test", "AAAA", tcp=True)
    assert addresses_in(over_tcp, "AAAA") == ["2001:db8::10"]
    names = [f"n{index}.example.test" for index in range(300)]  # none cached yet
    assert set(ask_many(server, names)) == {"NXDOMAIN"}  # the static zone's answer
    wait_until(lambda: len(tls_unbound.tls_queries()) >= 302, timeout=5.0,
               what="unbound to log 302 queries read over TLS")
    assert len(tls_unbound.tls_connections()) == 1
    # RFC 8467 padding: every query a multiple of 128 bytes
    assert {length % 128 for length in tls_unbound.tls_queries()} == {0}
    assert tls_unbound.query_count("n7.example.test", "A") == 1


def test_without_a_name_the_certificate_must_carry_the_address(
        dnsfence_factory: DnsfenceFactory, tls_unbound: Unbound, pki: ServerFiles,
        tmp_path: Path) -> None:
    server = start(dnsfence_factory, tmp_path, tls_unbound.tls_address, ca=pki.ca)
    assert addresses_in(server.query("www.example.test")) == ["192.0.2.10"]
    assert len(tls_unbound.tls_connections()) == 1


def test_a_connection_the_server_closes_is_reopened_for_the_next_query(
        dnsfence_factory: DnsfenceFactory, tmp_path: Path, pki: ServerFiles) -> None:
    impatient = Unbound(tmp_path / "unbound-impatient", tls=(pki.certificate, pki.key),
                        extra_server_lines=["tcp-idle-timeout: 200"]).start()
    try:
        server = start(dnsfence_factory, tmp_path, f"{impatient.tls_address}#{SERVER_NAME}",
                       ca=pki.ca)
        assert addresses_in(server.query("www.example.test")) == ["192.0.2.10"]
        wait_until(lambda: any("tcp took too long, dropped" in line
                               for line in impatient.log_lines()),
                   timeout=5.0, what="unbound to drop the idle TLS connection")
        assert addresses_in(server.query("mx.example.test")) == ["192.0.2.25"]
        first, second = impatient.tls_connections()
        assert first != second
    finally:
        impatient.stop()


def test_a_wrong_name_is_refused_with_one_log_line_and_servfail_never_plain_text(
        dnsfence_factory: DnsfenceFactory, tls_unbound: Unbound, pki: ServerFiles,
        tmp_path: Path) -> None:
    upstream = f"{tls_unbound.tls_address}#wrong.dnsfence.test"
    server = start(dnsfence_factory, tmp_path, upstream, ca=pki.ca)
    for index in range(6):
        reply = server.query(f"www{index}.example.test", timeout=5)
        assert rcode_name(reply) == "SERVFAIL"
    line = server.wait_for_stderr(r"upstream tls://.* refused: .*").group(0)
    assert f"tls://127.0.0.1:{tls_unbound.tls_port}#wrong.dnsfence.test refused" in line
    assert "certificate is not valid for wrong.dnsfence.test" in line
    assert "never in plain text" in line
    refused = [text for text in server.stderr_lines() if " refused: " in text]
    assert len(refused) == 1, refused  # not once per query
    assert tls_unbound.tls_refusals() >= 1  # the handshake reached it, and was abandoned
    assert tls_unbound.tls_queries() == [] and tls_unbound.tls_connections() == []
    # unbound also answers plain DNS on the TLS port's number (UDP): nothing came there
    for index in range(6):
        assert tls_unbound.query_count(f"www{index}.example.test") == 0


def test_an_untrusted_certificate_is_refused_and_the_next_upstream_answers(
        dnsfence_factory: DnsfenceFactory, tls_unbound: Unbound, unbound: Unbound,
        tmp_path: Path) -> None:
    """No ca_file: the system's CAs, which do not know the test CA."""
    upstream = f"{tls_unbound.tls_address}#{SERVER_NAME}"
    alone = start(dnsfence_factory, tmp_path, upstream, ca=None)
    assert rcode_name(alone.query("www.example.test", timeout=5)) == "SERVFAIL"
    line = alone.wait_for_stderr(r"refused: .*").group(0)
    assert "certificate is not trusted by the system's CAs" in line
    with_fallback = start(dnsfence_factory, tmp_path, upstream, unbound.address, ca=None)
    assert addresses_in(with_fallback.query("mx.example.test", timeout=5)) == ["192.0.2.25"]
    assert tls_unbound.tls_queries() == [] and tls_unbound.query_count("mx.example.test") == 0
