"""The lock files: every dependency pinned with its hashes, for runtime and for the tests.

    python requirements/lock.py          write runtime.txt and test.txt from pyproject.toml
    python requirements/lock.py check    exit 1 when pyproject.toml's dependencies changed
                                         since the lock was written (the Makefile asks)

`make lock` runs the first (with uv, from the test lock). Each lock starts with a line
naming the digest of the dependency lists it was made from, so a dependency added to
pyproject.toml without `make lock` is caught before anything is installed. Standard
library only: `check` runs before the venv has anything in it.
"""

import hashlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYPROJECT = HERE.parent / "pyproject.toml"
LOCKS = {"runtime": [], "test": ["--extra", "test"]}
MARK = "# pyproject dependencies sha256: "
# Resolved for every platform, from the oldest Python kessai supports.
COMPILE = ["pip", "compile", "--generate-hashes", "--universal", "--python-version", "3.11"]


def digest(pyproject: Path = PYPROJECT) -> str:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    deps = {
        "dependencies": project.get("dependencies", []),
        "optional": project.get("optional-dependencies", {}),
        "python": project.get("requires-python"),
    }
    return hashlib.sha256(json.dumps(deps, sort_keys=True).encode()).hexdigest()


def stale(lock_dir: Path = HERE, pyproject: Path = PYPROJECT) -> list[str]:
    want = MARK + digest(pyproject)
    found = []
    for name in LOCKS:
        path = lock_dir / f"{name}.txt"
        first = path.read_text(encoding="utf-8").splitlines()[:1] if path.exists() else []
        if first != [want]:
            found.append(path.name)
    return found


def ensure_uv() -> str:
    """uv beside this Python, installed first from the test lock's own pinned, hashed entry
    (not through the lock files' check: they may be the very thing being rewritten)."""
    uv = Path(sys.executable).parent / "uv"
    if uv.exists():
        return str(uv)
    lines = (HERE / "test.txt").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("uv=="))
    entry = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("    --hash"):
            break
        entry.append(line)
    pinned = HERE / ".uv-requirement.txt"
    pinned.write_text("\n".join(entry).rstrip(" \\") + "\n", encoding="utf-8")
    try:
        subprocess.run(  # noqa: S603
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--require-hashes",
                "--no-deps",
                "-r",
                str(pinned),
            ],
            check=True,
        )
    finally:
        pinned.unlink()
    return str(uv)


def write(lock_dir: Path = HERE, pyproject: Path = PYPROJECT, uv: str | None = None) -> None:
    uv = uv or ensure_uv()
    lock_dir.mkdir(parents=True, exist_ok=True)
    header = MARK + digest(pyproject)
    runtime = lock_dir / "runtime.txt"
    for name, extra in LOCKS.items():
        path = lock_dir / f"{name}.txt"
        # The test lock keeps the runtime lock's versions: the tests test what `make run` runs.
        same = ["-c", str(runtime)] if name != "runtime" else []
        subprocess.run(  # noqa: S603  (uv, with arguments of our own)
            [
                uv,
                *COMPILE,
                *extra,
                *same,
                "--no-header",
                "--quiet",
                str(pyproject),
                "-o",
                str(path),
            ],
            check=True,
        )
        body = path.read_text(encoding="utf-8")
        path.write_text(
            f"{header}\n# written by `make lock` (requirements/lock.py); do not edit\n{body}",
            encoding="utf-8",
        )


def main(argv: list[str]) -> int:
    if argv[1:] == ["check"]:
        found = stale()
        if found:
            print(
                f"requirements/{', '.join(found)} は pyproject.toml の依存関係と合っていません。"
                "`make lock` を実行してください / the lock is out of date: run `make lock`",
                file=sys.stderr,
            )
            return 1
        return 0
    if argv[1:]:
        print(__doc__, file=sys.stderr)
        return 2
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
