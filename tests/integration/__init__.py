"""End-to-end tests that boot real processes (unbound, ``dnsfence serve``) on loopback."""
