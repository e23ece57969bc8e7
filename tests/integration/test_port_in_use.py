"""The real `dnsfence serve` on a port another program holds: exit 1 with a message that
names the address and says how to find the holder, for UDP and for TCP alike."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from resolver.commands.exit_codes import EXIT_PROBLEMS

from .harness import free_port, run_dnsfence


@pytest.mark.parametrize("kind", [socket.SOCK_DGRAM, socket.SOCK_STREAM], ids=["udp", "tcp"])
def test_a_port_in_use_is_a_clear_error(tmp_path: Path, kind: socket.SocketKind) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    with socket.socket(socket.AF_INET, kind) as holder:
        holder.bind(("127.0.0.1", free_port()))
        if kind == socket.SOCK_STREAM:
            holder.listen(1)
        port = holder.getsockname()[1]
        result = run_dnsfence("serve", "--blocklists", str(lists), "--workers", "2",
                              "--listen", f"127.0.0.1:{port}", "--upstream", "127.0.0.1:9",
                              "--http-listen", "", timeout=20)
    assert result.returncode == EXIT_PROBLEMS, result.stderr
    assert (f"dnsfence: not started: cannot listen on 127.0.0.1:{port}: Address already in "
            f"use; another program holds the port (`ss -lntup 'sport = :{port}'` shows which "
            "program holds the port)") in result.stderr
    assert "Traceback" not in result.stderr and "serving on" not in result.stderr
