"""Benchmarks of dnsfence beside dnsmasq and Unbound; `bash bench/run.sh` runs them."""
