"""deploy/kubernetes is valid and hangs together, without a cluster and without kubectl:
every manifest validates against the Kubernetes OpenAPI schema, the kustomization assembles
(tests/deploy/kustomization.py does what `kustomize build` does with it), names, labels,
selectors and ports agree, and the pod's config lints clean against the lists as mounted."""

from __future__ import annotations

import copy
import ipaddress
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.kubelet_volume import ConfigMapVolume
from tests.deploy.kustomization import Build, KustomizationError, build, load_yaml

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "deploy" / "kubernetes"
COMPONENTS = BASE / "components"
KUBERNETES = "1.30"  # the oldest release still supported upstream when this was written
CORE_GROUPS = ("v1", "apps/v1", "policy/v1")

VARIANTS = {
    "lists from ConfigMaps": (),
    "with the prometheus-operator component": (COMPONENTS / "prometheus-operator",),
    "with the git-sync component": (COMPONENTS / "git-sync",),
}


def assembled(*components: Path) -> Build:
    return build(REPO, components)


@pytest.fixture(scope="module")
def shipped() -> Build:
    return assembled()


def pod_spec(built: Build) -> dict[str, Any]:
    spec: dict[str, Any] = built.one("Deployment", "dnsfence")["spec"]["template"]["spec"]
    return spec


def container(built: Build, name: str = "dnsfence") -> dict[str, Any]:
    [found] = [c for c in pod_spec(built)["containers"] if c["name"] == name]
    return found


def pod_labels(built: Build) -> dict[str, str]:
    labels: dict[str, str] = built.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    return labels


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def pod_config(built: Build) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(built.generated["dnsfence-config"]["dnsfence.yaml"])
    return config


def port_of(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    return host, int(port)


# -- the kustomization assembles ----------------------------------------------------------


def test_every_file_the_kustomizations_name_exists_and_parses() -> None:
    for components in VARIANTS.values():
        built = assembled(*components)
        assert built.files and all(path.is_file() for path in built.files)
        for path in built.files:
            if path.suffix == ".yaml":
                assert list(yaml.safe_load_all(path.read_text(encoding="utf-8"))), path
    kinds = sorted(r["kind"] for r in assembled().resources)
    assert kinds == ["ConfigMap", "ConfigMap", "Deployment", "Namespace",
                     "PodDisruptionBudget", "Service"]


def test_every_shipped_list_is_in_the_lists_configmap_and_nothing_else(shipped: Build) -> None:
    lists = shipped.generated["dnsfence-blocklists"]
    on_disk = sorted(p.name for p in (REPO / "blocklists").iterdir()
                     if p.suffix in (".yaml", ".yml"))
    assert sorted(lists) == on_disk
    for name, text in lists.items():  # read from the files themselves: no copy to drift
        assert text == (REPO / "blocklists" / name).read_text(encoding="utf-8")


def test_a_configmap_stays_well_under_its_one_mebibyte_limit(shipped: Build) -> None:
    for name, data in shipped.generated.items():
        size = sum(len(k) + len(v.encode()) for k, v in data.items())
        assert size < 512 * 1024, f"{name}: {size} bytes; large lists belong in url: or git"


def test_a_file_outside_the_kustomization_root_is_refused_as_kustomize_would(
        tmp_path: Path) -> None:
    (tmp_path / "lists.yaml").write_text("name: x\n")
    root = tmp_path / "site"
    root.mkdir()
    (root / "kustomization.yaml").write_text(
        "configMapGenerator:\n  - name: x\n    files: [../lists.yaml]\n")
    with pytest.raises(KustomizationError, match="outside"):
        build(root)


def test_every_resource_is_in_the_dnsfence_namespace(shipped: Build) -> None:
    assert shipped.one("Namespace")["metadata"]["name"] == "dnsfence"
    for resource in shipped.resources:
        if resource["kind"] != "Namespace":
            assert resource["metadata"]["namespace"] == "dnsfence", resource["kind"]


# -- the schema -----------------------------------------------------------------------------


@pytest.mark.parametrize("components", VARIANTS.values(), ids=VARIANTS.keys())
def test_every_manifest_validates_against_the_kubernetes_schema(
        components: tuple[Path, ...]) -> None:
    built = assembled(*components)
    checked = 0
    for resource in built.resources:
        if resource["apiVersion"] in CORE_GROUPS:
            # strict: an unknown field (a typo such as `readinesProbe`) is an error too
            assert kubernetes_validate.validate(resource, KUBERNETES, strict=True) == KUBERNETES
            checked += 1
        else:
            assert resource["kind"] == "ServiceMonitor"  # a CRD: checked below
    assert checked >= 6


@pytest.mark.parametrize("damage", [
    lambda d: d["spec"].update(replicas="two"),
    lambda d: d["spec"]["template"]["spec"]["containers"][0].update(readinesProbe={}),
    lambda d: d["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(
        containerPort="dns"),
    lambda d: d["spec"].pop("selector"),
], ids=["a string for a number", "a misspelt field", "a port name for a number",
        "no selector"])
def test_a_damaged_manifest_fails_validation(shipped: Build, damage: Any) -> None:
    deployment = copy.deepcopy(shipped.one("Deployment"))
    kubernetes_validate.validate(deployment, KUBERNETES, strict=True)
    damage(deployment)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)


def test_the_base_needs_no_crd(shipped: Build) -> None:
    """A cluster without the Prometheus operator can apply it: core kinds only."""
    assert all(r["apiVersion"] in CORE_GROUPS for r in shipped.resources)


def test_the_servicemonitor_scrapes_the_metrics_port_of_every_pod() -> None:
    built = assembled(COMPONENTS / "prometheus-operator")
    monitor = built.one("ServiceMonitor", "dnsfence")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(monitor["spec"]) == {"selector", "endpoints"}
    service = built.one("Service", "dnsfence-metrics")
    assert selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    # ... and not the DNS load balancer
    dns = built.one("Service", "dnsfence")
    assert not selects(monitor["spec"]["selector"]["matchLabels"], dns["metadata"]["labels"])
    assert service["spec"]["type"] == "ClusterIP" and service["spec"]["clusterIP"] == "None"
    assert selects(service["spec"]["selector"], pod_labels(built))
    [endpoint] = monitor["spec"]["endpoints"]
    assert set(endpoint) <= {"port", "path", "interval"}
    assert endpoint["path"] == "/metrics"
    assert re.fullmatch(r"[0-9]+[smh]", endpoint["interval"])
    [port] = service["spec"]["ports"]
    assert endpoint["port"] == port["name"] == port["targetPort"] == "metrics"


# -- names, labels, selectors and ports agree ----------------------------------------------


def test_the_selectors_pick_the_pods(shipped: Build) -> None:
    labels = pod_labels(shipped)
    deployment = shipped.one("Deployment")
    assert selects(deployment["spec"]["selector"]["matchLabels"], labels)
    assert selects(shipped.one("Service")["spec"]["selector"], labels)
    assert selects(shipped.one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
                   labels)
    spec = pod_spec(shipped)
    [term] = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert selects(term["podAffinityTerm"]["labelSelector"]["matchLabels"], labels)
    for constraint in spec["topologySpreadConstraints"]:
        assert selects(constraint["labelSelector"]["matchLabels"], labels)


def test_replicas_survive_a_voluntary_disruption(shipped: Build) -> None:
    deployment = shipped.one("Deployment")["spec"]
    assert deployment["replicas"] >= 2
    assert deployment["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    budget = shipped.one("PodDisruptionBudget")["spec"]
    assert 1 <= budget["maxUnavailable"] < deployment["replicas"]


def test_the_service_sends_dns_to_the_pods_port_keeping_client_addresses(
        shipped: Build) -> None:
    service = shipped.one("Service", "dnsfence")["spec"]
    assert service["type"] == "LoadBalancer"
    assert service["externalTrafficPolicy"] == "Local"
    ports = {p["name"]: p for p in container(shipped)["ports"]}
    served = sorted((p["port"], p["protocol"]) for p in service["ports"])
    assert served == [(53, "TCP"), (53, "UDP")]
    listen = pod_config(shipped)["server"]["listen"]
    for port in service["ports"]:
        target = ports[port["targetPort"]]
        assert target["protocol"] == port["protocol"]
        assert [f"0.0.0.0:{target['containerPort']}"] == listen
    assert all(p["containerPort"] > 1023 for p in ports.values())  # no privileged port


def test_the_load_balancers_source_ranges_are_clients_dnsfence_allows(shipped: Build) -> None:
    allowed = [ipaddress.ip_network(n) for n in pod_config(shipped)["server"]["allow_clients"]]
    ranges = [ipaddress.ip_network(r)
              for r in shipped.one("Service", "dnsfence")["spec"]["loadBalancerSourceRanges"]]
    assert ranges
    for network in ranges:
        assert any(network.version == a.version and network.subnet_of(a)  # type: ignore[arg-type]
                   for a in allowed), network
    # the pod asks its own DNS port for /healthz
    assert ipaddress.ip_network("127.0.0.0/8") in allowed


def test_probes_and_scrapes_reach_the_http_listener(shipped: Build) -> None:
    dnsfence = container(shipped)
    ports = {p["name"]: p["containerPort"] for p in dnsfence["ports"]}
    host, port = port_of(pod_config(shipped)["http"]["listen"])
    assert host == "0.0.0.0" and ports["metrics"] == port  # the kubelet comes from outside
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        http = dnsfence[probe]["httpGet"]
        assert http["port"] in ports, probe
        assert http["path"] == "/healthz?exclude=reload", probe
        # the probe's timeout covers /healthz's own DNS probe (1 s)
        assert dnsfence[probe]["timeoutSeconds"] >= 2
    annotations = shipped.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": str(port),
                           "prometheus.io/path": "/metrics"}


def mounts(built: Build, name: str = "dnsfence") -> dict[str, dict[str, Any]]:
    """Mount path -> the volume mounted there."""
    volumes = {v["name"]: v for v in pod_spec(built)["volumes"]}
    return {m["mountPath"]: volumes[m["volumeName"] if "volumeName" in m else m["name"]]
            for m in container(built, name)["volumeMounts"]}


def test_the_config_and_lists_come_from_the_generated_configmaps(shipped: Build) -> None:
    dnsfence = container(shipped)
    args = dnsfence["args"]
    config_path = Path(args[args.index("--config") + 1])
    mounted = mounts(shipped)
    volume = mounted[str(config_path.parent)]
    assert config_path.name in shipped.generated[volume["configMap"]["name"]]
    config = pod_config(shipped)
    lists = mounted[config["blocklists"]]
    assert lists["configMap"]["name"] == "dnsfence-blocklists"
    for mount in dnsfence["volumeMounts"]:  # no subPath: the kubelet could never update it
        assert "subPath" not in mount
        assert mount.get("readOnly", False) == ("configMap" in mounted[mount["mountPath"]])


def test_what_dnsfence_writes_goes_to_writable_volumes(shipped: Build) -> None:
    """The root filesystem is read-only: state_dir and the download cache are emptyDirs,
    and the query log goes to standard output."""
    config = pod_config(shipped)
    mounted = mounts(shipped)
    for key in (config["state_dir"], config["lists"]["cache_dir"]):
        assert "emptyDir" in mounted[key], key
    assert config["querylog"]["path"] == "-"
    assert config["querylog"].get("clients", "truncate") in ("truncate", "none")


def test_workers_are_explicit_and_match_the_cpu_limit(shipped: Build) -> None:
    config = pod_config(shipped)
    resources = container(shipped)["resources"]
    assert isinstance(config["server"]["workers"], int)
    assert int(resources["limits"]["cpu"]) == config["server"]["workers"]
    assert set(resources["requests"]) == {"cpu", "memory"}
    assert set(resources["limits"]) == {"cpu", "memory"}


def mebibytes(quantity: str) -> int:
    number, unit = re.fullmatch(r"([0-9]+)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * (1024 if unit == "Gi" else 1)


def test_memory_request_and_limit_are_ordered(shipped: Build) -> None:
    resources = container(shipped)["resources"]
    assert 0 < mebibytes(resources["requests"]["memory"]) < mebibytes(
        resources["limits"]["memory"])


# -- privileges ----------------------------------------------------------------------------


def dockerfile_uid() -> int:
    found = re.search(r"useradd\b[^\n]*--uid (\d+)", (REPO / "Dockerfile").read_text())
    assert found is not None
    return int(found[1])


@pytest.mark.parametrize("components", VARIANTS.values(), ids=VARIANTS.keys())
def test_every_container_meets_the_restricted_pod_security_standard(
        components: tuple[Path, ...]) -> None:
    built = assembled(*components)
    spec = pod_spec(built)
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["seccompProfile"]["type"] == "RuntimeDefault"
    assert not any(spec.get(key) for key in ("hostNetwork", "hostPID", "hostIPC"))
    assert all("hostPath" not in volume for volume in spec["volumes"])
    for each in (*spec["containers"], *spec.get("initContainers", [])):
        security = each["securityContext"]
        assert security["allowPrivilegeEscalation"] is False, each["name"]
        assert security["readOnlyRootFilesystem"] is True, each["name"]
        assert security["capabilities"]["drop"] == ["ALL"], each["name"]
        assert set(security["capabilities"].get("add", [])) <= {"NET_BIND_SERVICE"}
        assert security.get("runAsUser", pod["runAsUser"]) != 0
        assert all("hostPort" not in port for port in each.get("ports", []))
    assert built.one("Namespace")["metadata"]["labels"][
        "pod-security.kubernetes.io/enforce"] == "restricted"


def test_dnsfence_runs_as_the_images_user(shipped: Build) -> None:
    assert pod_spec(shipped)["securityContext"]["runAsUser"] == dockerfile_uid()
    assert container(shipped)["securityContext"]["runAsUser"] == dockerfile_uid()


# -- the config, as the pod sees it --------------------------------------------------------


def test_the_pod_config_lints_clean_against_the_lists_as_mounted(
        shipped: Build, tmp_path: Path) -> None:
    volumes = {name: ConfigMapVolume(tmp_path / name, data)
               for name, data in shipped.generated.items()}
    config = volumes["dnsfence-config"].path / "dnsfence.yaml"
    lists = volumes["dnsfence-blocklists"].path
    assert config.is_symlink() and (lists / "tiktok.yaml").is_symlink()
    result = subprocess.run(
        [sys.executable, "-m", "resolver", "lint", "--strict", "--config", str(config),
         "--blocklists", str(lists)],
        capture_output=True, text=True, timeout=60, cwd=REPO, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"0 error\(s\), 0 warning\(s\); 2 list\(s\)", result.stdout)


def test_a_config_error_fails_that_lint(shipped: Build, tmp_path: Path) -> None:
    broken = shipped.generated["dnsfence-config"]["dnsfence.yaml"].replace(
        'path: "-"', 'paht: "-"')
    assert "paht" in broken
    volume = ConfigMapVolume(tmp_path / "config", {"dnsfence.yaml": broken})
    result = subprocess.run(
        [sys.executable, "-m", "resolver", "lint", "--config", str(volume.path / "dnsfence.yaml"),
         "--blocklists", str(REPO / "blocklists")],
        capture_output=True, text=True, timeout=60, cwd=REPO, check=False)
    assert result.returncode != 0 and "unknown key 'paht'" in result.stderr


# -- lists from git ------------------------------------------------------------------------


def flag(args: list[str], name: str) -> str:
    [value] = [a.split("=", 1)[1] for a in args if a.startswith(f"--{name}=")]
    return value


def test_the_git_sync_component_feeds_the_lists_through_its_link() -> None:
    built = assembled(COMPONENTS / "git-sync")
    spec = pod_spec(built)
    [init] = spec["initContainers"]
    sidecar = container(built, "git-sync")
    assert "--one-time" in init["args"] and "--one-time" not in sidecar["args"]
    for name in ("repo", "ref", "root", "link"):
        assert flag(init["args"], name) == flag(sidecar["args"], name)
    git_mounts = {m["name"]: m["mountPath"] for m in sidecar["volumeMounts"]}
    root, link = flag(sidecar["args"], "root"), flag(sidecar["args"], "link")
    assert git_mounts["lists-from-git"] == root
    dnsfence = container(built)
    args = dnsfence["args"]
    lists = Path(args[args.index("--blocklists") + 1])
    [mount] = [m for m in dnsfence["volumeMounts"] if m["name"] == "lists-from-git"]
    assert mount["readOnly"] is True
    assert lists.relative_to(mount["mountPath"]).parts[0] == link
    # the rest of the dnsfence container is the base's
    assert args[:args.index("--blocklists")] == container(assembled())["args"]
    assert {m["name"] for m in dnsfence["volumeMounts"]} >= {"config", "state", "cache"}


def test_the_root_kustomization_documents_the_optional_components() -> None:
    text = (REPO / "kustomization.yaml").read_text(encoding="utf-8")
    for component in sorted(COMPONENTS.iterdir()):
        assert f"deploy/kubernetes/components/{component.name}" in text
        assert load_yaml(component / "kustomization.yaml")["kind"] == "Component"


def test_a_resource_entry_that_is_missing_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: [gone.yaml]\n")
    with pytest.raises(KustomizationError, match="no such file"):
        build(tmp_path)

