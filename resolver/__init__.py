"""dnsfence: a DNS forwarder that enforces dated blocklists."""

__version__ = "0.1.0"
