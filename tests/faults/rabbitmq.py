"""A RabbitMQ node of the test's own: its own name, ports, data and log directories, so
it can be stopped and started again mid-run while the machine's broker is left alone.

As root the node runs as the `rabbitmq` user (the directory is theirs), started straight
from RabbitMQ's own script: Debian's wrapper in /usr/sbin goes through `su`, which puts the
node in a session of its own, out of reach of the stop below, so the node outlived every
stop (a "restart" found the old node still answering) and outlived the test run.
"""

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.faults.postgres import free_port

STARTUP_SECONDS = 180  # a loaded two-core machine boots Erlang slowly
NODE_PREFIX = "kessai-faults-"
STARTED: set[str] = set()  # every node this run started, stopped again at its end
SCRIPT = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")  # the node itself, not the su wrapper


def nodes_named(name: str) -> list[int]:
    """Pids of the Erlang VMs running RabbitMQ node `name` (read from their environment)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if not (entry / "cmdline").read_bytes().split(b"\0")[0].endswith(b"beam.smp"):
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if f"RABBITMQ_NODENAME={name}".encode() in environ:
            found.append(int(entry.name))
    return found


def stop_node(name: str, within: float = 60) -> None:
    """Node `name` stopped whatever started it: SIGTERM (a clean stop), SIGKILL if it hangs."""
    for sig, wait in ((signal.SIGTERM, within), (signal.SIGKILL, 20.0)):
        pids = nodes_named(name)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while pids and time.monotonic() < deadline:
            time.sleep(0.2)
            pids = nodes_named(name)
        if not pids:
            return


class PrivateRabbitMQ:
    def __init__(self) -> None:
        server = SCRIPT if SCRIPT.exists() else shutil.which("rabbitmq-server")
        if server is None:
            pytest.skip("rabbitmq-server not installed")
        self.server = str(server)
        self.user: int | None = None
        self.group: int | None = None
        self.root = Path(tempfile.mkdtemp(prefix="kessai-faults-rmq-"))
        self.port, self.dist_port = free_port(), free_port()
        (self.root / "enabled_plugins").write_text("")
        (self.root / "rabbitmq.conf").write_text(
            f"loopback_users = none\nlisteners.tcp.default = 127.0.0.1:{self.port}\n"
        )
        if os.geteuid() == 0:
            with contextlib.suppress(KeyError):
                account = pwd.getpwnam("rabbitmq")
                for path in (self.root, *self.root.iterdir()):
                    os.chown(path, account.pw_uid, account.pw_gid)
                self.user, self.group = account.pw_uid, account.pw_gid
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return f"{NODE_PREFIX}{self.port}@localhost"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        r = self.root
        return {
            **os.environ,
            "HOME": str(r),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(r / "mnesia"),
            "RABBITMQ_LOG_BASE": str(r / "log"),
            "RABBITMQ_CONFIG_FILE": str(r / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(r / "enabled_plugins"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(r / "feature_flags"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(r / "plugins-expand"),
            "RABBITMQ_PID_FILE": str(r / "pid"),
            "RABBITMQ_CONF_ENV_FILE": "/dev/null",  # not the machine's node settings
        }

    def start(self) -> None:
        out = open(self.root / "out.log", "ab")  # noqa: SIM115  (the node writes it)
        STARTED.add(self.name)
        self.proc = subprocess.Popen(  # noqa: S603
            [self.server],
            env=self._env(),
            cwd=self.root,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=self.user,
            group=self.group,
            extra_groups=[] if self.user is not None else None,
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = (self.root / "out.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"private RabbitMQ did not start:\n{log}") from None
                time.sleep(0.5)

    def stop(self) -> None:
        """Shut down as its operator's restart does (SIGTERM: the node stops cleanly), and
        not back until the node's VM is gone, whoever its parent was."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)
        stop_node(self.name)

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
