"""dnsfence as it runs in a Kubernetes pod, against the real server and a real unbound: the
shipped pod config (deploy/kubernetes/dnsfence.yaml, two workers), lists and config mounted
as ConfigMap volumes that the kubelet updates by swapping a `..data` symlink, lists from a
git-sync checkout, and the report read from the replicas' collected standard output."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import dns.rcode
import pytest

from tests.deploy.kubelet_volume import DATA, ConfigMapVolume, GitSyncCheckout

from .harness import REPO_ROOT, Dnsfence, DnsfenceFactory, run_dnsfence, wait_until

POD_CONFIG = REPO_ROOT / "deploy" / "kubernetes" / "dnsfence.yaml"
RELOADED = 10.0  # seconds: poll (0.5 s), settle, load, and a new generation of workers
READINESS_TOLERANCE = 5.0  # deployment.yaml's readinessProbe: periodSeconds x (threshold - 1)


def blocklist(name: str, *domains: str) -> str:
    entries = "".join(f"  - {domain}\n" for domain in domains)
    return f"name: {name}\nreference: test list {name}\neffective: 2023-03-20\ndomains:\n{entries}"


def rcode(server: Dnsfence, name: str) -> str:
    return dns.rcode.to_text(server.query(name).rcode())


def settled(server: Dnsfence, name: str, expected: str) -> bool:
    """Ten answers in a row, each from a new source port (so from both workers), agree."""
    return all(rcode(server, name) == expected for _ in range(10))


def wait_for(server: Dnsfence, name: str, expected: str) -> None:
    wait_until(lambda: settled(server, name, expected), timeout=RELOADED, interval=0.1,
               what=f"{name} to be answered {expected}")


class ProbeWatch:
    """Asks `/healthz?exclude=reload` as the kubelet would, but every 50 ms, on a thread,
    and keeps the longest stretch of failures: a reload must not make the pod unready."""

    def __init__(self, server: Dnsfence) -> None:
        self._server = server
        self._stop = threading.Event()
        self.asked = 0
        self.longest_failure = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        failing_since: float | None = None
        while not self._stop.wait(0.05):
            now = time.monotonic()
            try:
                ok = self._server.http_get("/healthz?exclude=reload")[0] == 200
            except OSError:
                ok = False
            self.asked += 1
            if ok:
                failing_since = None
            else:
                failing_since = now if failing_since is None else failing_since
                self.longest_failure = max(self.longest_failure, now - failing_since)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)


def test_configmap_volumes_swapped_by_the_kubelet_are_reloaded(
        dnsfence_factory: DnsfenceFactory, tmp_path: Path,
        request: pytest.FixtureRequest) -> None:
    config = ConfigMapVolume(tmp_path / "config", {"dnsfence.yaml": POD_CONFIG.read_text()})
    lists = ConfigMapVolume(tmp_path / "blocklists-volume",
                            {"tiktok.yaml": blocklist("tiktok", "tiktok.com")})
    assert (lists.path / "tiktok.yaml").readlink() == Path(DATA, "tiktok.yaml")
    # workers=None: the pod config's two workers, under a supervisor, as in the pod
    server = dnsfence_factory("--config", str(config.path / "dnsfence.yaml"),
                              blocklists=lists.path, workers=None)
    server.wait_for_stderr(r"serving on .*; 2 workers$", since_start=True)
    assert rcode(server, "tiktok.com") == "NXDOMAIN"
    assert rcode(server, "example.com") == "NOERROR"
    probes = ProbeWatch(server)
    request.addfinalizer(probes.stop)

    # a changed list and a new one, in one swap
    lists.update({"tiktok.yaml": blocklist("tiktok", "tiktok.com", "example.com"),
                  "more.yaml": blocklist("more", "www.example.test")})
    wait_for(server, "example.com", "NXDOMAIN")
    wait_for(server, "www.example.test", "NXDOMAIN")
    server.wait_for_stderr(r"reloaded \(files changed\)")
    # a list dropped from the ConfigMap: its link goes, its block with it
    lists.update({"tiktok.yaml": blocklist("tiktok", "tiktok.com", "example.com")})
    assert lists.names() == ["tiktok.yaml"]
    wait_for(server, "www.example.test", "NOERROR")

    # the config's ConfigMap is swapped the same way
    config.update({"dnsfence.yaml": POD_CONFIG.read_text() + "blocking:\n  negative_ttl: 30\n"})
    wait_until(lambda: all(server.query("tiktok.com").authority[0].ttl == 30 for _ in range(10)),
               timeout=RELOADED, interval=0.1, what="the new negative_ttl")

    # a broken list reaches the pod: it keeps the last good policy and stays in service
    lists.update({"tiktok.yaml": "name: tiktok\neffective: 2023-03-20\ndomains:\n"
                                 "  - https://example.com/\n"})
    server.wait_for_stderr(r"reload \(files changed\) failed", timeout=RELOADED)
    assert settled(server, "example.com", "NXDOMAIN")
    assert server.http_get("/healthz")[0] == 503  # monitoring sees the failure
    assert server.http_get("/healthz?exclude=reload")[0] == 200  # the kubelet's probes keep the pod
    probes.stop()
    # four reloads, three of them new generations of workers: the pod stayed ready (the
    # readiness probe marks it unready after failures for periodSeconds x (failureThreshold
    # - 1) = 5 s; here each reload passed with none at all, asked every 50 ms)
    assert probes.asked > 20
    assert probes.longest_failure < READINESS_TOLERANCE, probes.longest_failure


def test_a_git_sync_checkout_is_reloaded_when_its_link_moves(
        dnsfence_factory: DnsfenceFactory, tmp_path: Path) -> None:
    checkout = GitSyncCheckout(tmp_path / "git",
                               {"blocklists/tiktok.yaml": blocklist("tiktok", "tiktok.com"),
                                "README.md": "lists of the network team\n"})
    server = dnsfence_factory(blocklists=checkout.link / "blocklists")
    assert rcode(server, "example.com") == "NOERROR"
    checkout.update({"blocklists/tiktok.yaml": blocklist("tiktok", "tiktok.com",
                                                         "example.com")})
    wait_for(server, "example.com", "NXDOMAIN")
    server.wait_for_stderr(r"reloaded \(files changed\)")


@pytest.fixture
def replicas(dnsfence_factory: DnsfenceFactory) -> list[Dnsfence]:
    """Two pods' worth of dnsfence on the shipped config and lists (no state directory:
    the query log goes to standard output)."""
    return [dnsfence_factory("--config", str(POD_CONFIG),
                             blocklists=REPO_ROOT / "blocklists", state_dir=None)
            for _ in range(2)]


def test_the_report_reads_the_replicas_collected_standard_output(
        replicas: list[Dnsfence], tmp_path: Path) -> None:
    first, second = replicas
    for _ in range(3):
        assert rcode(first, "tiktok.com") == "NXDOMAIN"
    for name in ("www.tiktok.com", "use-application-dns.net"):
        assert rcode(second, name) == "NXDOMAIN"
    assert rcode(second, "example.com") == "NOERROR"  # not logged: querylog.mode blocked
    collected = tmp_path / "dnsfence.jsonl"
    with collected.open("w", encoding="utf-8") as out:
        for replica in replicas:
            assert replica.stop() == 0  # SIGTERM writes what is queued
            # what a log stack keeps of a pod: both streams; server log lines are skipped
            for line in (*replica.stderr_lines(), *replica.stdout_lines()):
                out.write(line + "\n")
    assert any(line.startswith('{"ts"') for line in second.stdout_lines())

    # the command docs/KUBERNETES.md gives, from the top of the repository
    result = run_dnsfence("report", "--config", "deploy/kubernetes/dnsfence.yaml",
                          "--blocklists", "blocklists", "--log", str(collected), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    attempts = {entry["name"]: entry["attempts"] for entry in report["lists"]}
    assert attempts == {"tiktok": 4, "encrypted-dns-bypass": 1}
    assert report["log"]["records"] >= 5 and report["log"]["skipped_lines"] > 0
    tiktok = next(entry for entry in report["lists"] if entry["name"] == "tiktok")
    assert tiktok["top_clients"] == [{"client": "127.0.0.0", "attempts": 4}]
