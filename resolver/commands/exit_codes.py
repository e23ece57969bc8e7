"""dnsfence's exit statuses, and the exception that ends a command with one."""

from __future__ import annotations

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class CommandFailed(Exception):
    """Stops a command with an exit status after its message was printed."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status
