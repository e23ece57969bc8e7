"""What DNS over TLS to the upstream costs: forwarded queries per server CPU-second with a
`tls://` upstream against the same upstream over plain UDP, interleaved.

    python -m bench.dot_cost [--rounds 4] [--seconds 3] [--work DIR]

One upstream (Unbound on CPU 1, local data only) answers over UDP and, on a second port,
over DNS over TLS with a certificate from a CA made for the run (openssl). Two dnsfence
servers of this checkout, both pinned to CPU 0, differ only in their upstream: `udp`
(127.0.0.1:PORT) and `dot` (tls://127.0.0.1:TLSPORT#NAME, the CA as upstream.ca_file).
Each round asks each server never-asked names under the upstream's zones (the forwarded
workload: every query goes upstream), the order swapped every round. Reports the median
queries per server CPU-second and the paired ratios dot ÷ udp. Only 127.0.0.1.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import interleaved, machine, servers, suite, workloads
from bench.servers import NOERROR, NXDOMAIN, Process

SERVER_NAME = "bench.dnsfence.test"
WORKLOAD = "forwarded"


def certificates(directory: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) for SERVER_NAME and 127.0.0.1,
    made with the openssl command line; EC P-256, valid two days."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key = directory / "ca.key", directory / "ca.pem", directory / "server.key"
    request, certificate = directory / "server.csr", directory / "server.pem"
    extensions = directory / "server.ext"
    extensions.write_text(f"subjectAltName=DNS:{SERVER_NAME},IP:127.0.0.1\n"
                          "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for command in (
        ["req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2",
         "-subj", "/CN=dnsfence bench CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["req", *ec, "-keyout", key, "-out", request, "-subj", f"/CN={SERVER_NAME}"],
        ["x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", certificate, "-days", "2", "-extfile", extensions],
    ):
        subprocess.run([servers.binary("openssl"), *map(str, command)], check=True,
                       capture_output=True, timeout=30)
    return ca, certificate, key


def start(name: str, variant: Any, work: Path, upstream_port: int, upstream: str,
          settings: str, probe: str) -> Process:
    process = servers.dnsfence(work / f"dnsfence-{name}", variant.directory, upstream_port,
                               name=name, settings=settings, upstream=upstream)
    process.start()
    ready = process.wait_answering(suite.probe_name(variant), NXDOMAIN, 90)
    process.wait_answering(probe, NOERROR, 30)  # forwarding works (the TLS path too)
    suite.log(f"{name} answered after {ready:.2f} s, forwarded {probe}")
    return process


def compare(rounds: int, seconds: float, work: Path) -> dict[str, Any]:
    ca, certificate, key = certificates(work / "pki")
    variants = workloads.blocklist_variants(work)
    shipped = variants[0]
    names = workloads.allowed(variants)
    upstream = servers.upstream(work / "upstream", names.zones, tls=(certificate, key)).start()
    processes: dict[str, Process] = {}
    once: dict[str, dict[tuple[str, int], Path]] = {}
    try:
        upstream.wait_answering(f"bench-probe.{names.zones[0]}", NOERROR, 60)
        tls_port = upstream.extra["tls_port"]
        plans = {
            "udp": (f"{servers.LOOPBACK}:{upstream.port}", ""),
            "dot": (f"tls://{servers.LOOPBACK}:{tls_port}#{SERVER_NAME}",
                    f"upstream:\n  ca_file: {ca}\n"),
        }
        for number, (name, (address, settings)) in enumerate(plans.items()):
            probe = f"probe-{name}.{names.zones[1]}"
            processes[name] = start(name, shipped, work, upstream.port, address, settings,
                                    probe)
            (work / "queries").mkdir(parents=True, exist_ok=True)
            once[name] = interleaved.once_files(work / "queries", f"d{number}x", rounds,
                                                shipped, names)
        records = interleaved.interleave(
            processes, rounds,
            lambda name, number: [(WORKLOAD, once[name][(WORKLOAD, number)], True)],
            seconds=seconds)
        per_cpu = interleaved.figures(records, "qps_per_cpu")
        qps = interleaved.figures(records, "qps")
        figures = {name: {"per_cpu": per_cpu[name][WORKLOAD], "qps": qps[name][WORKLOAD]}
                   for name in processes}
    finally:
        for process in processes.values():
            process.stop()
        upstream.stop()
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "rounds": rounds,
            "seconds": seconds, "commit": machine.describe()["commit"],
            "workload": WORKLOAD, "figures": figures}


def summary(results: dict[str, Any]) -> str:
    udp, dot = results["figures"]["udp"], results["figures"]["dot"]
    pairs = [d / u for d, u in zip(dot["per_cpu"], udp["per_cpu"], strict=True) if d and u]
    mean = statistics.geometric_mean(pairs) if pairs else 0.0
    rows = [f"| {name} | {statistics.median(each['per_cpu']):,.0f} | "
            f"{statistics.median(each['qps']):,.0f} |" for name, each in (("udp", udp),
                                                                          ("dot", dot))]
    return "\n".join([
        f"### DNS over TLS upstream, interleaved ({results['rounds']} rounds of "
        f"{results['seconds']:g} s, {results['date']}, commit {results['commit']})", "",
        "| upstream | forwarded qps per server CPU-second, median | qps, median |",
        "| --- | --- | --- |", *rows,
        "", f"dot ÷ udp per CPU-second, paired by round: {' '.join(f'{p:.2f}' for p in pairs)}"
        f"; geometric mean {mean:.2f}× (target ≥ 0.5×)", ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dot_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4, choices=range(1, 21))
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--work", type=Path, help="scratch directory (default: a new one)")
    args = parser.parse_args(argv)
    return interleaved.measured("dot", args.work,
                                lambda work: compare(args.rounds, args.seconds, work), summary)


if __name__ == "__main__":
    sys.exit(main())
