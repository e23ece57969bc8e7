"""resolver._udp_batch (resolver/_udp_batch.c) on real sockets on 127.0.0.1 and ::1:
batches and their bound, forwarded queries handed back with their address, handler
exceptions, truncated datagrams, partial and failing sendmmsg, receive errors, a signal
during a blocking read, and no memory kept over 10^5 datagrams."""

from __future__ import annotations

import errno
import gc
import os
import signal
import socket
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.udp_io import LOOPBACKS, arrived, batch_module, quiet_for, udp

NOW = 1_700_000_000.5


@pytest.fixture(scope="module")
def compiled() -> ModuleType:
    return batch_module()


class Pair:
    """A server socket read by a Batch, and a client socket that asks it."""

    def __init__(self, compiled: ModuleType, family: socket.AddressFamily, host: str,
                 **options: int) -> None:
        self.server = udp(family, host)
        self.client = udp(family, host)
        self.batch = compiled.Batch(self.server.fileno(), **options)
        self.handled: list[tuple[bytes, str, float]] = []
        self.later: list[tuple[Any, tuple[Any, ...]]] = []
        self.errors: list[Exception] = []

    def send(self, *datagrams: bytes) -> None:
        for datagram in datagrams:
            self.client.sendto(datagram, self.server.getsockname())

    def echo(self, data: bytes, host: str, now: float) -> bytes | None:
        """An answer now (the datagram, upper case), none (b"drop"), or a query answered
        later (b"later...")."""
        self.handled.append((data, host, now))
        if data.startswith(b"later"):
            return ("pending", data)  # type: ignore[return-value]
        if data == b"drop":
            return None
        if data.startswith(b"raise"):
            raise ValueError(data.decode())
        return data.upper()

    def drain(self, limit: int = 256, handle: Any = None) -> int:
        count: int = self.batch.drain(handle or self.echo,
                                      lambda r, a: self.later.append((r, a)),
                                      self.errors.append, NOW, limit)
        return count

    def close(self) -> None:
        self.server.close()
        self.client.close()


@pytest.fixture(params=LOOPBACKS, ids=["ipv4", "ipv6"])
def pair(request: pytest.FixtureRequest, compiled: ModuleType) -> Iterator[Pair]:
    family, host = request.param
    made = Pair(compiled, family, host)
    yield made
    made.close()


def test_an_empty_socket_reads_nothing_and_calls_nothing(pair: Pair) -> None:
    assert pair.drain() == 0
    assert pair.handled == [] and pair.batch.datagrams == 0


def test_many_datagrams_are_read_in_batches_and_every_one_is_answered(pair: Pair) -> None:
    queries = [f"q{n}".encode() for n in range(150)]
    pair.send(*queries)
    assert pair.drain() == 150  # 64 + 64 + 22: three reads, three sends
    host = pair.client.getsockname()[0]
    assert pair.handled == [(q, host, NOW) for q in queries]
    assert arrived(pair.client, 150) == [q.upper() for q in queries]
    assert (pair.batch.datagrams, pair.batch.answers_sent) == (150, 150)


def test_a_wake_up_reads_at_most_its_limit_and_leaves_the_rest_queued(pair: Pair) -> None:
    pair.send(*(f"q{n}".encode() for n in range(100)))
    assert pair.drain(limit=40) == 40
    assert len(arrived(pair.client, 40)) == 40
    assert pair.drain(limit=256) == 60
    assert len(arrived(pair.client, 60)) == 60 and quiet_for(pair.client) == []


def test_a_query_answered_later_goes_back_with_its_clients_address(pair: Pair) -> None:
    order: list[str] = []

    def handle(data: bytes, host: str, now: float) -> bytes | None:
        order.append(f"handle {data.decode()}")
        return pair.echo(data, host, now)

    def later(result: Any, address: tuple[Any, ...]) -> None:
        order.append(f"later {result[1].decode()}")
        pair.later.append((result, address))

    pair.send(b"a", b"later1", b"drop", b"b")
    assert pair.batch.drain(handle, later, pair.errors.append, NOW) == 4
    # handed back at once, before the next datagram: the handler reuses its objects
    assert order == ["handle a", "handle later1", "later later1", "handle drop", "handle b"]
    [(result, address)] = pair.later
    assert result == ("pending", b"later1")
    assert address == pair.client.getsockname()  # (host, port) or the 4-tuple of IPv6
    pair.server.sendto(b"answered later", address)  # the address sendto takes back
    assert arrived(pair.client, 3) == [b"A", b"B", b"answered later"]


def test_a_handler_exception_is_reported_and_the_batch_goes_on(pair: Pair) -> None:
    pair.send(*(b"raise %d" % n if n % 3 == 0 else b"q%d" % n for n in range(30)))
    assert pair.drain() == 30
    assert [str(e) for e in pair.errors] == [f"raise {n}" for n in range(0, 30, 3)]
    assert all(e.__traceback__ is not None for e in pair.errors)  # for the log
    assert arrived(pair.client, 20) == [b"Q%d" % n for n in range(30) if n % 3]
    assert pair.batch.handler_errors == 10


def test_an_exception_from_the_forwarder_is_reported_too(pair: Pair) -> None:
    def later(result: Any, address: tuple[Any, ...]) -> None:
        raise RuntimeError("forwarder broken")

    pair.send(b"later1", b"a")
    assert pair.batch.drain(pair.echo, later, pair.errors.append, NOW) == 2
    assert [str(e) for e in pair.errors] == ["forwarder broken"]
    assert arrived(pair.client, 1) == [b"A"]


def test_a_failing_error_handler_is_unraisable_but_loses_nothing(
        pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)

    def error(exc: Exception) -> None:
        raise OSError("the log is broken too")

    pair.send(b"raise", b"a", b"b")
    assert pair.batch.drain(pair.echo, pair.later.append, error, NOW) == 3
    assert [str(u.exc_value) for u in unraisable] == ["the log is broken too"]
    assert arrived(pair.client, 2) == [b"A", b"B"]


def test_keyboard_interrupt_ends_the_call_after_sending_what_was_answered(pair: Pair) -> None:
    def handle(data: bytes, host: str, now: float) -> bytes | None:
        if data == b"stop":
            raise KeyboardInterrupt
        return data.upper()

    pair.send(b"a", b"b", b"stop", b"c")
    with pytest.raises(KeyboardInterrupt):
        pair.batch.drain(handle, pair.later.append, pair.errors.append, NOW)
    assert arrived(pair.client, 2) == [b"A", b"B"]  # the process is ending: c is not read
    assert pair.errors == []


def test_a_handler_that_drains_again_gets_an_error_not_a_crash(pair: Pair) -> None:
    def handle(data: bytes, host: str, now: float) -> bytes | None:
        pair.drain()
        return data

    pair.send(b"a")
    assert pair.batch.drain(handle, pair.later.append, pair.errors.append, NOW) == 1
    assert [type(e) for e in pair.errors] == [RuntimeError]


@pytest.mark.parametrize(("family", "host"), LOOPBACKS, ids=["ipv4", "ipv6"])
def test_a_datagram_longer_than_a_slot_is_handed_over_cut_as_recvfrom_into_does(
        compiled: ModuleType, family: socket.AddressFamily, host: str) -> None:
    pair = Pair(compiled, family, host, size=512)
    python = udp(family, host)
    try:
        long = bytes(range(256)) * 3
        pair.send(long, b"short")
        pair.client.sendto(long, python.getsockname())
        assert pair.drain() == 2
        buffer = bytearray(512)
        size, _ = python.recvfrom_into(buffer)  # the Python path, with a buffer as short
        assert [h[0] for h in pair.handled] == [bytes(buffer[:size]), b"short"]
        assert pair.batch.truncated == 1
    finally:
        pair.close()
        python.close()


def test_the_default_slot_holds_the_largest_udp_datagram(compiled: ModuleType) -> None:
    pair = Pair(compiled, socket.AF_INET, "127.0.0.1")
    try:
        largest = os.urandom(65_507)  # 65,535 - IPv4 and UDP headers
        pair.send(largest)
        assert pair.drain(handle=lambda d, h, n: pair.handled.append((d, h, n))) == 1
        assert pair.handled[0][0] == largest and pair.batch.truncated == 0
    finally:
        pair.close()


def test_a_partial_sendmmsg_is_continued(pair: Pair) -> None:
    pair.batch.inject_faults(send=[3, 1, 2])  # the kernel took 3, then 1, then 2 of the rest
    pair.send(*(b"q%d" % n for n in range(10)))
    assert pair.drain() == 10
    assert arrived(pair.client, 10) == [b"Q%d" % n for n in range(10)]
    assert (pair.batch.answers_sent, pair.batch.send_dropped) == (10, 0)


def test_a_full_send_buffer_drops_the_rest_counted_and_never_blocks(pair: Pair) -> None:
    pair.batch.inject_faults(send=[3, -errno.EAGAIN])
    pair.send(*(b"q%d" % n for n in range(10)))
    assert pair.drain() == 10
    assert arrived(pair.client, 3) == [b"Q0", b"Q1", b"Q2"] and quiet_for(pair.client) == []
    assert (pair.batch.answers_sent, pair.batch.send_dropped) == (3, 7)
    pair.send(b"next")  # the next wake-up sends again
    assert pair.drain() == 1 and arrived(pair.client, 1) == [b"NEXT"]


def test_an_interrupted_send_is_retried(pair: Pair) -> None:
    pair.batch.inject_faults(send=[-errno.EINTR, 2, -errno.EINTR])
    pair.send(*(b"q%d" % n for n in range(5)))
    assert pair.drain() == 5
    assert arrived(pair.client, 5) == [b"Q%d" % n for n in range(5)]


def test_an_answer_the_kernel_refuses_is_skipped_alone(pair: Pair) -> None:
    """A real refusal: an answer too long for a UDP datagram (EMSGSIZE)."""
    def handle(data: bytes, host: str, now: float) -> bytes:
        return b"x" * 70_000 if data == b"huge" else data.upper()

    pair.send(b"a", b"huge", b"b", b"c")
    assert pair.drain(handle=handle) == 4
    assert arrived(pair.client, 3) == [b"A", b"B", b"C"]
    assert (pair.batch.answers_sent, pair.batch.send_errors) == (3, 1)


def test_receive_errors_are_counted_and_reading_goes_on(pair: Pair) -> None:
    pair.batch.inject_faults(receive=[-errno.ECONNREFUSED, -errno.EINTR, 2])
    pair.send(*(b"q%d" % n for n in range(5)))
    # an ICMP error queued, then an interrupted read (retried), then a read of 2 that
    # stops the wake-up (fewer than asked: taken as an empty socket); the rest next time
    assert pair.drain() == 1 + 2
    assert pair.batch.receive_errors == 1
    assert pair.drain() == 3
    assert arrived(pair.client, 5) == [b"Q%d" % n for n in range(5)]


def test_eagain_from_the_kernel_ends_the_wake_up_with_the_datagrams_queued(pair: Pair) -> None:
    pair.batch.inject_faults(receive=[-errno.EAGAIN])
    pair.send(b"a")
    assert pair.drain() == 0
    assert pair.drain() == 1


def test_a_signal_during_a_blocking_read_runs_its_handler_and_the_read_goes_on(
        compiled: ModuleType) -> None:
    """EINTR for real: the read blocks (wait=True) until SIGALRM, whose handler sends the
    datagram the read then returns. SO_RCVTIMEO bounds the test if EINTR were lost."""
    server = udp(socket.AF_INET, "127.0.0.1", blocking=True)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, b"\x03" + bytes(15))  # 3 s
    client = udp(socket.AF_INET, "127.0.0.1")
    batch = compiled.Batch(server.fileno())
    fired: list[int] = []

    def alarm(signum: int, frame: Any) -> None:
        fired.append(signum)
        client.sendto(b"after the signal", server.getsockname())

    previous = signal.signal(signal.SIGALRM, alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        handled: list[bytes] = []
        count = batch.drain(lambda d, h, n: handled.append(d), handled.append,
                            handled.append, NOW, 256, True)
        assert fired == [signal.SIGALRM]
        assert (count, handled) == (1, [b"after the signal"])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        server.close()
        client.close()


def test_an_exception_from_a_signal_handler_ends_the_blocking_read(
        compiled: ModuleType) -> None:
    server = udp(socket.AF_INET, "127.0.0.1", blocking=True)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, b"\x03" + bytes(15))
    batch = compiled.Batch(server.fileno())

    class Alarm(Exception):
        pass

    def alarm(signum: int, frame: Any) -> None:
        raise Alarm

    previous = signal.signal(signal.SIGALRM, alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        with pytest.raises(Alarm):
            batch.drain(lambda d, h, n: None, print, print, NOW, 256, True)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        server.close()


def test_bad_arguments_are_refused(compiled: ModuleType) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for options in ({"count": 0}, {"count": compiled.MAX_COUNT + 1}, {"size": 0},
                        {"size": 65_536}):
            with pytest.raises(ValueError):
                compiled.Batch(sock.fileno(), **options)
        with pytest.raises(ValueError):
            compiled.Batch(-1)
        batch = compiled.Batch(sock.fileno())
        with pytest.raises(TypeError):
            batch.drain(None, print, print, NOW)
        with pytest.raises(TypeError):
            batch.drain(print, print)
        with pytest.raises(ValueError):
            batch.drain(print, print, print, NOW, 0)
        with pytest.raises(ValueError):
            batch.inject_faults(send=[0])


def test_memory_does_not_grow_over_a_hundred_thousand_datagrams(compiled: ModuleType) -> None:
    """Every object made per datagram (bytes, host text, answers, forwarded results and
    their addresses, exceptions) must be let go: a leak of one would add 10^5 blocks."""
    pair = Pair(compiled, socket.AF_INET, "127.0.0.1")
    pair.client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # answers: dropped
    kinds = [b"answer", b"later", b"drop", b"raise"]

    def handle(data: bytes, host: str, now: float) -> object:
        if data == b"later":
            return ["pending", data]
        if data == b"drop":
            return None
        if data == b"raise":
            raise ValueError("a bug")
        return data + b"!"

    def rounds(count: int) -> int:
        done = 0
        for number in range(count):
            pair.send(*(kinds[(number + k) % 4] for k in range(100)))
            done += pair.batch.drain(handle, lambda r, a: None, lambda e: None, NOW)
        return done

    try:
        rounds(20)  # warm up: caches, free lists
        gc.collect()
        before = sys.getallocatedblocks()
        done = rounds(1000)
        gc.collect()
        grown = sys.getallocatedblocks() - before
        assert done == 100_000
        assert grown < 1000, f"{grown} blocks more after {done} datagrams"
    finally:
        pair.close()
