"""The image's install step, without Docker: the build context exactly as `.dockerignore`
filters it is built into a wheel and installed into a fresh venv, as the Dockerfile's `pip
install` does; the installed `dnsfence` then lints the shipped lists on the shipped config,
serves, and passes the Dockerfile's HEALTHCHECK. The wheel is built as the image's build
stage builds it (DNSFENCE_COMPILE=1, in the test venv, which has mypy, as that stage has);
only dnsfence itself is installed into the venv: its dependencies come from the test venv
(a path entry, so the test venv's editable dnsfence does not come along)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.container.conftest import ContainerServer, wait_for_health
from tests.container.dockerfiles import REPO, ContainerFiles, build_context
from tests.integration.harness import in_ci


@dataclass(frozen=True, slots=True)
class Installed:
    venv: Path
    wheel: Path
    context: list[str]

    @property
    def dnsfence(self) -> list[str]:
        return [str(self.venv / "bin" / "dnsfence")]

    @property
    def env(self) -> dict[str, str]:
        """No PYTHONPATH: the venv's own dnsfence, never the source tree's. Nor the test
        run's DNSFENCE_PURE_PYTHON (`make test`'s second pass): the image does not set it."""
        inherited = {k: v for k, v in os.environ.items() if k != "DNSFENCE_PURE_PYTHON"}
        return {**inherited, "PYTHONPATH": "", "PYTHONDONTWRITEBYTECODE": "1"}


def run(argv: list[str], *, cwd: Path, env: Mapping[str, str] | None = None,
        timeout: float = 180) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, env=None if env is None else dict(env),
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{argv}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("image")
    context = root / "context"
    files = build_context(context)
    # built as the image's build stage builds it: the hot modules compiled with mypyc, in
    # the environment that has it (where no compiler is found, setup.py would fail: CI has
    # one, and the test of the compiled parts below says so elsewhere)
    compile_env = {**os.environ, "DNSFENCE_COMPILE": "1" if compiler() else ""}
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--wheel-dir", str(root / "wheels"), str(context)],
        cwd=root, env=compile_env, timeout=600)
    [wheel] = (root / "wheels").glob("dnsfence-*.whl")
    venv = root / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=root)
    run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--no-deps", "--no-index", "--no-cache-dir", "--disable-pip-version-check",
         str(wheel)], cwd=root)
    purelib = Path(run([str(venv / "bin" / "python"), "-c",
                        "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                       cwd=root).stdout.strip())
    (purelib / "test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return Installed(venv, wheel, files)


def test_the_context_holds_the_package_and_nothing_of_the_rest(installed: Installed) -> None:
    tops = {path.split("/")[0] for path in installed.context}
    assert tops == {"pyproject.toml", "setup.py", "README.md", "LICENSE", "resolver", "deploy"}
    assert "deploy/dnsfence.yaml" in installed.context
    assert not [p for p in installed.context if "__pycache__" in p or p.endswith(".pyc")]


def test_the_wheel_carries_every_module_and_only_the_package(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    modules = {p for p in names if p.endswith(".py")}
    assert modules == {p for p in installed.context if p.startswith("resolver/")
                       and p.endswith(".py")}
    assert {p.split("/")[0] for p in names} == {"resolver", "dnsfence-0.1.0.dist-info"}


def compiler() -> bool:
    return shutil.which((sysconfig.get_config_var("CC") or "cc").split()[0]) is not None


def test_the_wheel_carries_the_compiled_parts_and_the_venv_runs_them(
        installed: Installed, tmp_path: Path) -> None:
    """As the image's build stage makes it (with gcc and mypy); without a compiler the wheel
    has no .so and runs as pure Python (tests/test_udp_batch.py builds that one)."""
    if not compiler():
        if in_ci():
            pytest.fail("no C compiler; CI=true, so this is a failure, not a skip")
        pytest.skip("no C compiler: the wheel has no compiled module")
    names = zipfile.ZipFile(installed.wheel).namelist()
    assert [n for n in names if n.startswith("resolver/_udp_batch.") and n.endswith(".so")]
    assert [n for n in names if n.startswith("resolver/_hot__mypyc.") and n.endswith(".so")]
    assert [n for n in names if n.startswith("resolver/pipeline.") and n.endswith(".so")]
    assert "resolver/compiled.json" in names
    done = run([str(installed.venv / "bin" / "python"), "-c",
                "import resolver, resolver.pipeline; from resolver.udp_batch import choose; "
                "print(choose().description); print(resolver.HOT_MODULES.description); "
                "print(resolver.pipeline.__file__)"],
               cwd=tmp_path, env=installed.env)
    udp, hot, pipeline = done.stdout.splitlines()
    assert udp.startswith("batched (recvmmsg/sendmmsg"), done.stdout + done.stderr
    assert hot.startswith("compiled (mypyc, "), done.stdout + done.stderr
    assert pipeline.endswith(".so") and Path(pipeline).is_relative_to(installed.venv)


def test_the_installed_command_is_the_venvs_own(installed: Installed, tmp_path: Path) -> None:
    done = run([str(installed.venv / "bin" / "python"), "-c",
                "import resolver, yaml; print(resolver.__file__)"], cwd=tmp_path,
               env=installed.env)
    assert Path(done.stdout.strip()).is_relative_to(installed.venv)
    compiled = list((installed.venv / "lib").rglob("resolver/commands/__pycache__/*.pyc"))
    assert compiled, "pip compiles the bytecode at install time, as in the image"


def shipped_lists(files: ContainerFiles) -> None:
    shutil.copytree(REPO / "blocklists", files["/etc/dnsfence/blocklists"],
                    dirs_exist_ok=True)


def test_the_installed_dnsfence_lints_serves_and_passes_the_health_check(
        installed: Installed, container_server: ContainerServer) -> None:
    server, files = container_server(prepare=shipped_lists, program=installed.dnsfence,
                                     env=installed.env)
    linted = run([*installed.dnsfence, "lint", "--config", str(files.config)],
                 cwd=files.config.parent, env=installed.env)
    assert ": 0 error(s), 0 warning(s); 2 list(s)" in linted.stdout
    checked = wait_for_health(files, 0, program=installed.dnsfence, env=installed.env)
    assert "policy of 2 lists loaded" in checked.line
    blocked = server.query("tiktok.com")
    assert blocked.rcode() == 3  # NXDOMAIN from the shipped list, served by the venv's code
