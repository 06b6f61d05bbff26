"""CPU accounting from /proc for the benchmarks: a process tree, the PostgreSQL backends of
one database, the whole machine."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

HZ = os.sysconf("SC_CLK_TCK")


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


class BackendCpu:
    """CPU of the PostgreSQL backends serving one database (not other databases' work).

    A backend's process title reads "postgres: <cluster>: <user> <database> <host> ...".
    Backends come and go (the pool's overflow connections are closed when returned), so
    the processes are sampled while the load runs and each one's last-seen CPU counts.
    """

    def __init__(self, db_name: str) -> None:
        self.marker = f" {db_name} ".encode()
        self.known: dict[int, bool] = {}  # pid -> serves our database
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
            # A backend born during the run counts from zero; one already there, from now.
            self.first.setdefault(pid, 0 if self.started else ticks)
            self.last[pid] = ticks

    def start(self) -> None:
        self.sample()
        self.started = True

    def seconds(self) -> float:
        return sum(self.last[p] - self.first[p] for p in self.last) / HZ

    def connections_opened(self) -> int:
        return sum(1 for p in self.first if self.first[p] == 0)


@contextlib.asynccontextmanager
async def sampling(meter: BackendCpu | None, every: float = 0.2) -> AsyncIterator[None]:
    """Sample the backends in the background while the body runs (bounded by the body)."""
    if meter is None:
        yield
        return
    meter.start()

    async def loop() -> None:
        while True:
            await asyncio.sleep(every)
            meter.sample()

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        meter.sample()


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine since boot (all cores)."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / HZ


def own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def wait_for_quiet(max_seconds: float, threshold: float = 0.3) -> float:
    """Wait (bounded) until the machine is nearly idle; returns the busy cores last seen."""
    deadline = time.monotonic() + max_seconds
    while True:
        b0 = machine_busy()
        time.sleep(1.0)
        busy = machine_busy() - b0
        if busy < threshold or time.monotonic() >= deadline:
            if busy >= threshold:
                print(f"warning: machine busy ({busy:.2f} cores) before a cell", file=sys.stderr)
            return busy
