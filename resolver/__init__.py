"""dnsfence: a DNS forwarder that enforces dated blocklists."""

from resolver.compiled_modules import install as _install_hot_modules

__version__ = "0.1.0"

HOT_MODULES = _install_hot_modules()
"""Compiled or Python source, chosen before any hot module is imported (see that module)."""
