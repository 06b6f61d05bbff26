"""Process helpers for bench/gmo_pg.py: child processes that always die with the bench,
CPU meters read from /proc (no psutil needed), free loopback ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path

HZ = os.sysconf("SC_CLK_TCK")
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


def tree_cpu(pid: int) -> float:
    """utime+stime (+ reaped children) in seconds over pid and its live descendants."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])
            for task in Path(f"/proc/{p}/task").iterdir():
                stack += [int(x) for x in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / HZ


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine since boot (all cores)."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / HZ


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


class BackendCpu:
    """CPU of the PostgreSQL backends serving one database, sampled while the load runs
    (a backend's title reads "postgres: <user> <database> <host> ..."; pools open and
    close connections during a run, so each backend's last-seen CPU counts)."""

    def __init__(self, db_name: str) -> None:
        self.marker = f" {db_name} ".encode()
        self.known: dict[int, bool] = {}
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.started = False

    def sample(self) -> None:
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            pid = int(proc.name)
            try:
                if pid not in self.known:
                    self.known[pid] = self.marker in (proc / "cmdline").read_bytes()
                if not self.known[pid]:
                    continue
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks = int(fields[11]) + int(fields[12])
            self.first.setdefault(pid, 0 if self.started else ticks)
            self.last[pid] = ticks

    def seconds(self) -> float:
        return sum(self.last[p] - self.first[p] for p in self.last) / HZ


@contextlib.asynccontextmanager
async def sampling(meter: BackendCpu, every: float = 0.25) -> AsyncIterator[BackendCpu]:
    meter.sample()
    meter.started = True

    async def loop() -> None:
        while True:
            await asyncio.sleep(every)
            meter.sample()

    task = asyncio.create_task(loop())
    try:
        yield meter
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        meter.sample()
