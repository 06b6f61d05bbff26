"""Process helpers for bench/gmo_pg.py: child processes that always die with the bench,
free loopback ports, the load average (CPU accounting lives in procstat.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

PR_SET_PDEATHSIG = 1
STARTUP_SECONDS = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the bench dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@contextlib.contextmanager
def child(
    cmd: Sequence[str],
    *,
    port: int | None = None,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    stop_signal: int = signal.SIGTERM,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a child (waiting for `port` to accept); stop it and wait for it on exit."""
    proc = subprocess.Popen(
        list(cmd), cwd=cwd, env=dict(env) if env else None, preexec_fn=_die_with_parent
    )
    try:
        if port is not None:
            wait_port(proc, port)
        yield proc
    finally:
        stop(proc, stop_signal)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def wait_port(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited during start-up (code {proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{proc.args!r} did not listen on {port} in time") from None
            time.sleep(0.1)


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])
