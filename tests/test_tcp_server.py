"""The TCP server alone: framed queries answered, connections capped in all and per
client by the chain's limits (or, without them, in all only), and a close that lets
connections go without an error."""

from __future__ import annotations

import asyncio
import socket

import dns.message

from resolver.pipeline import Pipeline
from resolver.tcp_server import GlobalCap, TcpServer
from tests.stages.fakes import office_config, setup_of


def test_the_global_cap_admits_up_to_its_limit_and_frees_on_release() -> None:
    cap = GlobalCap(2)
    assert cap.admit_tcp("a") and cap.admit_tcp("b") and not cap.admit_tcp("c")
    cap.release_tcp("a")
    assert cap.admit_tcp("c")


def _listening() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.setblocking(False)
    return sock


async def _status_query(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    wire = dns.message.make_query("status.dnsfence", "TXT", rdclass="CH").to_wire()
    writer.write(len(wire).to_bytes(2, "big") + wire)
    size = int.from_bytes(await reader.readexactly(2), "big")
    data = await reader.readexactly(size)
    writer.close()
    return data


def test_per_client_cap_closes_the_third_connection_and_answers_the_others() -> None:
    setup = setup_of(office_config(**{"server.tcp_max_connections_per_client": 2}),
                     status_report=lambda: {"ok": True})
    pipeline = Pipeline.from_config(setup.config, setup.policy,
                                    status_report=lambda: {"ok": True})

    async def scenario() -> None:
        sock = _listening()
        port = sock.getsockname()[1]
        server = TcpServer(sock, pipeline, idle_timeout=5.0, max_connections=100)
        await server.start()
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(reader.read(), 2) == b""  # closed at once: over the cap
        writer.close()
        for _, other in held:
            other.close()
        await asyncio.sleep(0.1)  # the server sees them close and frees their slots
        answer = dns.message.from_wire(await _status_query(port))
        assert answer.answer  # answered again
        await server.close()

    asyncio.run(scenario())
    assert pipeline.counters()["tcp_client_refused"] == 1
