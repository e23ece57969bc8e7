"""Just enough of `kustomize build` to assemble deploy/kubernetes without kubectl: resources
(files and directories), components, ConfigMap generators, strategic-merge patches and the
namespace. Generated names keep no content hash (kustomize appends one and rewrites the
references to it; here the plain name is both)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]
KNOWN_KEYS = {"apiVersion", "kind", "namespace", "resources", "components", "configMapGenerator",
              "patches", "images", "generatorOptions", "labels"}
# The keys strategic merge uses to match list items (Kubernetes' patchMergeKey); other lists
# are replaced whole.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "volumes": "name",
              "volumeMounts": "mountPath", "env": "name", "ports": "containerPort"}


class KustomizationError(ValueError):
    """The kustomization names something that is not there, or is not what it should be."""


@dataclass(slots=True)
class Build:
    resources: list[Resource] = field(default_factory=list)
    generated: dict[str, dict[str, str]] = field(default_factory=dict)
    """ConfigMap name -> file name -> the file's text, as a generator put it in."""
    files: list[Path] = field(default_factory=list)
    """Every file read, for the checks that each exists and parses."""

    def one(self, kind: str, name: str | None = None) -> Resource:
        found = [r for r in self.resources
                 if r["kind"] == kind and (name is None or r["metadata"]["name"] == name)]
        if len(found) != 1:
            raise KustomizationError(f"{len(found)} {kind} {name or ''} in the build")
        return found[0]


def load_yaml(path: Path) -> Any:
    if not path.is_file():
        raise KustomizationError(f"{path}: no such file")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def kustomization(directory: Path) -> dict[str, Any]:
    document = load_yaml(directory / "kustomization.yaml")
    if not isinstance(document, dict) or set(document) - KNOWN_KEYS:
        raise KustomizationError(f"{directory}: unknown keys {set(document) - KNOWN_KEYS}")
    return document


def build(directory: Path, components: tuple[Path, ...] = (), into: Build | None = None
          ) -> Build:
    """The resources `directory`'s kustomization produces, with `components` added as if
    it listed them."""
    out = Build() if into is None else into
    document = kustomization(directory)
    out.files.append(directory / "kustomization.yaml")
    for entry in document.get("resources", []):
        path = directory / entry
        if path.is_dir():
            build(path, into=out)
        else:
            _inside(path, directory)
            out.files.append(path)
            out.resources.extend(d for d in yaml.safe_load_all(load_text(path)) if d)
    for generator in document.get("configMapGenerator", []):
        data = {}
        for name in generator["files"]:
            path = directory / name
            _inside(path, directory)
            out.files.append(path)
            data[Path(name).name] = load_text(path)
        out.generated[generator["name"]] = data
        out.resources.append({"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": generator["name"]}, "data": data})
    for entry in (*document.get("components", []), *components):
        component = entry if isinstance(entry, Path) else directory / entry
        if kustomization(component).get("kind") != "Component":
            raise KustomizationError(f"{component} is not a Component")
        build(component, into=out)
    for patch in document.get("patches", []):
        path = directory / patch["path"]
        out.files.append(path)
        change = load_yaml(path)
        target = out.one(change["kind"], change["metadata"]["name"])
        merged = merge(target, change)
        target.clear()
        target.update(merged)
    if "namespace" in document:
        for resource in out.resources:
            if resource["kind"] != "Namespace":
                resource["metadata"]["namespace"] = document["namespace"]
    return out


def merge(base: Any, change: Any, key: str | None = None) -> Any:
    """Strategic merge of `change` into `base` (a copy): maps key by key, lists of the
    fields in MERGE_KEYS item by item, anything else replaced."""
    if isinstance(base, dict) and isinstance(change, dict):
        result = copy.deepcopy(base)
        for name, value in change.items():
            result[name] = merge(base[name], value, name) if name in base else value
        return result
    if isinstance(base, list) and isinstance(change, list) and key in MERGE_KEYS:
        # as kustomize orders them: the patch's items (merged into their originals), then
        # the originals it does not name
        merge_key = MERGE_KEYS[key]
        originals = {item[merge_key]: item for item in base}
        named = [merge(originals[item[merge_key]], item) if item[merge_key] in originals
                 else copy.deepcopy(item) for item in change]
        mentioned = {item[merge_key] for item in change}
        return named + [copy.deepcopy(item) for item in base if item[merge_key] not in mentioned]
    return copy.deepcopy(change)


def load_text(path: Path) -> str:
    if not path.is_file():
        raise KustomizationError(f"{path}: no such file")
    return path.read_text(encoding="utf-8")


def _inside(path: Path, root: Path) -> None:
    """kustomize's default load restrictor: files (not other kustomizations) are read from
    below the kustomization's own directory only."""
    if not path.resolve().is_relative_to(root.resolve()):
        raise KustomizationError(f"{path} is outside {root}: kustomize refuses to load it")
