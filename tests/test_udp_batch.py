"""resolver.udp_batch: which UDP I/O serves, and the build behind it: the switch
(DNSFENCE_PURE_PYTHON, server.batch_io), a module not built, a stale build refused with a
warning; the source compiles warning-free; without a compiler the package still builds,
installs and serves on the Python path."""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from resolver import udp_batch
from resolver.udp_batch import PURE_PYTHON_ENV, choose, compiled, stale_build
from tests.integration.harness import in_ci
from tests.udp_io import batch_module

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fresh_choice(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(PURE_PYTHON_ENV, raising=False)
    compiled.cache_clear()
    yield
    compiled.cache_clear()


def test_auto_is_the_batch_when_it_is_built() -> None:
    batch_module()
    io = choose("auto")
    assert io.batched and io.batch is not None
    assert io.description.startswith("batched (recvmmsg/sendmmsg")


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_the_environment_forces_the_python_path(monkeypatch: pytest.MonkeyPatch,
                                                value: str) -> None:
    monkeypatch.setenv(PURE_PYTHON_ENV, value)
    io = choose("auto")
    assert not io.batched and io.description == f"python ({PURE_PYTHON_ENV} is set)"


@pytest.mark.parametrize("value", ["", "0", "no"])
def test_other_values_of_the_environment_change_nothing(monkeypatch: pytest.MonkeyPatch,
                                                        value: str) -> None:
    batch_module()
    monkeypatch.setenv(PURE_PYTHON_ENV, value)
    assert choose("auto").batched


def test_off_is_the_python_path() -> None:
    io = choose("off")
    assert not io.batched and io.description == "python (server.batch_io: off)"


def test_a_module_not_built_is_the_python_path_quietly(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    real = importlib.import_module

    def without_it(name: str, package: str | None = None) -> object:
        if name == udp_batch.MODULE:
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", without_it)
    io = choose("auto")
    assert not io.batched
    assert io.description == "python (the compiled module is not built: make build needs a " \
                             "C compiler)"
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_a_stale_build_is_refused_with_a_warning_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    batch_module()
    changed = tmp_path / "_udp_batch.c"
    changed.write_bytes(udp_batch.SOURCE.read_bytes() + b"/* edited */\n")
    monkeypatch.setattr(udp_batch, "SOURCE", changed)
    first, second = choose("auto"), choose("auto")
    assert not first.batched and first == second
    assert "built from another version of _udp_batch.c" in first.description
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "until `make build`" in warnings[0]


def test_stale_build_compares_the_hash_of_the_source_beside_it(tmp_path: Path) -> None:
    source = tmp_path / "_udp_batch.c"
    source.write_bytes(b"int x;\n")
    digest = hashlib.sha256(b"int x;\n").hexdigest()
    assert stale_build(digest, source) == ""
    assert stale_build("0" * 64, source) != ""
    assert stale_build("", source) != ""  # built without a hash: cannot tell, not used
    assert stale_build("0" * 64, tmp_path / "absent.c") == ""  # an installed wheel


def test_the_build_in_this_checkout_is_from_its_current_source() -> None:
    module = batch_module()
    current = hashlib.sha256(udp_batch.SOURCE.read_bytes()).hexdigest()
    assert current == module.SOURCE_SHA256, "stale build: run `make build`"


def test_the_source_compiles_without_a_warning() -> None:
    """-Wall -Wextra -Werror, as `make build` compiles it."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        message = f"no C compiler ({compiler})"
        if in_ci():
            pytest.fail(f"{message}; CI=true, so this is a failure, not a skip")
        pytest.skip(message)
    done = subprocess.run(
        [compiler, "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-std=gnu11",
         f"-I{sysconfig.get_paths()['include']}", str(udp_batch.SOURCE)],
        capture_output=True, text=True, timeout=120, check=False)
    assert (done.returncode, done.stderr) == (0, "")


def package_copy(into: Path) -> Path:
    """The files a package build reads, with this checkout's edits."""
    into.mkdir()
    for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, into / name)
    shutil.copytree(REPO / "resolver", into / "resolver",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyc"))
    return into


def test_without_a_compiler_the_package_builds_installs_and_serves_on_python(
        tmp_path: Path) -> None:
    """`pip install .` on a machine without gcc: the extension is skipped (a warning in
    pip's log), the wheel installs, and the installed dnsfence chooses the Python path."""
    source = package_copy(tmp_path / "source")
    env = {**os.environ, "CC": str(tmp_path / "no-such-compiler")}
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
         "--verbose", "--wheel-dir", str(tmp_path / "wheels"), str(source)],
        capture_output=True, text=True, timeout=300, check=False, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert 'building extension "resolver._udp_batch" failed' in done.stdout + done.stderr
    [wheel] = (tmp_path / "wheels").glob("dnsfence-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "resolver/udp_server.py" in names and not [n for n in names if n.endswith(".so")]
    target = tmp_path / "installed"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
                    "--disable-pip-version-check", "--target", str(target), str(wheel)],
                   capture_output=True, text=True, timeout=300, check=True)
    # The checkout's own editable install hooks `resolver.*` names into sys.meta_path; where
    # `make build` has put the compiled module in the checkout, that hook would find it for
    # the wheel's package too. The installed wheel alone is what is under test.
    chosen = subprocess.run(
        [sys.executable, "-c", "import sys; sys.meta_path[:] = [f for f in sys.meta_path "
         "if not getattr(f, '__module__', '').startswith('__editable__')]; "
         "from resolver.udp_batch import choose; import resolver; "
         "print(resolver.__file__); print(choose().description)"],
        capture_output=True, text=True, timeout=60, check=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(target)})
    where, description = chosen.stdout.splitlines()
    assert Path(where).is_relative_to(target)
    assert description == "python (the compiled module is not built: make build needs a " \
                          "C compiler)"
