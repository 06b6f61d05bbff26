"""The lock files (requirements/*.txt): current with pyproject.toml, every package pinned
with hashes, the tests on the versions `make run` runs; `make lock` writes them again."""

import importlib.util
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lock_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kessai_lock", ROOT / "requirements" / "lock.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lock = _lock_module()
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)")


def pins(path: Path) -> dict[str, str]:
    """name → version of every package the file pins; each must carry at least one hash."""
    found: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        match = PIN.match(line)
        if match:
            assert lines[i + 1].strip().startswith("--hash=sha256:"), f"{line}: no hash"
            found[match[1].lower().replace("_", "-")] = match[2]
    return found


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_the_committed_locks_match_pyproject() -> None:
    assert lock.stale() == [], "run `make lock`"


def test_every_dependency_is_pinned_with_hashes_and_tests_run_the_runtime_versions() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = pins(ROOT / "requirements" / "runtime.txt")
    test = pins(ROOT / "requirements" / "test.txt")
    assert names(project["dependencies"]) <= set(runtime)
    assert names(project["optional-dependencies"]["test"]) <= set(test)
    assert "pytest" not in runtime  # make run installs what kessai runs on, nothing more
    assert {name: test[name] for name in runtime} == runtime


def test_a_dependency_added_without_make_lock_is_caught(tmp_path: Path) -> None:
    changed = tmp_path / "pyproject.toml"
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    changed.write_text(text.replace("dependencies = [", 'dependencies = [\n  "six",', 1))
    assert lock.stale(ROOT / "requirements", changed) == ["runtime.txt", "test.txt"]
    # Settings that are no dependency (ruff, pytest) need no new lock.
    (tmp_path / "other.toml").write_text(text + "\n[tool.kessai-extra]\nx = 1\n")
    assert lock.stale(ROOT / "requirements", tmp_path / "other.toml") == []


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
    except OSError:
        return False
    return True


def test_make_lock_writes_both_locks_again(tmp_path: Path) -> None:
    if not _pypi_reachable():
        pytest.skip("pypi.org unreachable: make lock resolves against the package index")
    uv = shutil.which("uv") or lock.ensure_uv()
    lock.write(tmp_path, ROOT / "pyproject.toml", uv=uv)
    assert lock.stale(tmp_path) == []
    assert set(pins(tmp_path / "runtime.txt")) == set(pins(ROOT / "requirements" / "runtime.txt"))
    assert set(pins(tmp_path / "test.txt")) == set(pins(ROOT / "requirements" / "test.txt"))


def test_a_fresh_clone_installs_the_runtime_lock_alone_for_make_run(tmp_path: Path) -> None:
    """What `make run` installs on a fresh clone: the runtime lock and kessai, nothing else."""
    if shutil.which("git") is None or shutil.which("make") is None:
        pytest.skip("git and make are needed to clone and run the Makefile")
    clone = tmp_path / "kessai"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)  # noqa: S603, S607
    done = subprocess.run(  # noqa: S603
        ["make", "-C", str(clone), ".venv/.runtime", f"PYTHON={sys.executable}"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "--require-hashes -r requirements/runtime.txt" in done.stdout
    bin_dir = clone / ".venv" / "bin"
    assert not (bin_dir / "pytest").exists()  # the test tools are make test's
    installed = subprocess.run(  # noqa: S603
        [str(bin_dir / "python"), "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    frozen = {
        line.split("==")[0].lower().replace("_", "-"): line.split("==")[1]
        for line in installed.splitlines()
        if "==" in line
    }
    locked = pins(ROOT / "requirements" / "runtime.txt")
    # Exactly the lock's versions; the lock also holds other platforms' extras (colorama …).
    assert frozen.items() <= locked.items()
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert names(project["dependencies"]) <= set(frozen)
    assert subprocess.run([str(bin_dir / "kessai"), "--help"], check=False).returncode == 0  # noqa: S603
