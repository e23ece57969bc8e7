"""One module per `dnsfence` command; each exposes `run(...) -> exit status`."""
