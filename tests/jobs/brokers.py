"""Real brokers for the worker tests: RabbitMQ and Redis on loopback, a queue per test.

Each test gets its own queue name (KESSAI_BROKER_QUEUE), so runs sharing the broker never
take each other's messages; the queues are deleted afterwards.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET_KEY

RABBITMQ_URL = os.environ.get("KESSAI_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("KESSAI_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ROOT = Path(__file__).resolve().parents[2]


def _reachable(url: str, port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def broker_url(kind: str) -> str:
    url, port = (RABBITMQ_URL, 5672) if kind == "rabbitmq" else (REDIS_URL, 6379)
    if not _reachable(url, port):
        pytest.skip(f"{kind} unreachable at 127.0.0.1:{port}")
    return url


def queue_name() -> str:
    return f"kessai_test_{uuid.uuid4().hex[:10]}"


def worker_env(database_url: str, url: str, queue: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        KESSAI_DATABASE_URL=database_url,
        KESSAI_BROKER_URL=url,
        KESSAI_BROKER_QUEUE=queue,
        KESSAI_ENV="sandbox",
        KESSAI_SECRET_KEY=TEST_SECRET_KEY,
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),  # this checkout's code
        **extra,
    )
    return env


def start_worker(
    env: dict[str, str], *modules: str, threads: int = 4, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """`kessai worker` as an operator runs it (plus test-only modules when given)."""
    if modules:
        cmd = [sys.executable, "-m", "dramatiq", "kessai.jobs.tasks", *modules]
        cmd += ["--processes", "1", "--threads", str(threads)]
    else:
        cmd = [sys.executable, "-m", "kessai.cli", "worker", "--threads", str(threads)]
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    # A session of its own: the worker's forked children die with it (kill_worker).
    return subprocess.Popen(  # noqa: S603
        cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def kill_worker(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """The worker and the processes it forked, as when its machine goes down."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    proc.wait(timeout=20)


@contextmanager
def workers(procs: list[subprocess.Popen[bytes]]) -> Iterator[list[subprocess.Popen[bytes]]]:
    try:
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()  # dramatiq's parent stops its children and waits for them
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                kill_worker(p)


def delete_queue(url: str, queue: str) -> None:
    if url.startswith("amqp"):
        import pika

        conn = pika.BlockingConnection(pika.URLParameters(url))
        try:
            ch = conn.channel()
            for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
                ch.queue_delete(name)
        finally:
            conn.close()
    else:
        import redis

        client = redis.Redis.from_url(url)
        for key in client.scan_iter(f"dramatiq:{queue}*"):
            client.delete(key)
