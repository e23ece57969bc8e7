"""Types of the compiled module (resolver/_udp_batch.c), for mypy."""

from collections.abc import Callable, Sequence
from typing import Any

SOURCE_SHA256: str
MAX_COUNT: int
MAX_SIZE: int

class Batch:
    fd: int
    count: int
    datagrams: int
    answers_sent: int
    send_dropped: int
    send_errors: int
    receive_errors: int
    truncated: int
    handler_errors: int

    def __init__(self, fd: int, count: int = 64, size: int = 65535) -> None: ...
    def drain(self, handle: Callable[[bytes, str, float], object],
              later: Callable[[Any, tuple[Any, ...]], object],
              error: Callable[[Exception], object], now: float, limit: int = 256,
              wait: bool = False, /) -> int: ...
    def inject_faults(self, receive: Sequence[int] = (), send: Sequence[int] = ()) -> None: ...
