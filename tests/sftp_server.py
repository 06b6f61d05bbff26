"""A real OpenSSH sshd on a free loopback port, for SFTP tests; always stopped afterwards.

Everything lives in a temporary directory: the host key, a generated client key in a temporary
authorized_keys, the config and a login directory holding a few files. The server is
SFTP-only (ForceCommand internal-sftp) and lets in the current user (root here) with that key;
password logins are offered but always fail (the user has no password sshd could check), so
they serve the "wrong password" tests.

sshd needs its privilege separation directory /run/sshd. When the machine lacks it (no init
ever started sshd), sshd runs in a private mount namespace with a tmpfs on /run, so the host
stays untouched. Without /usr/sbin/sshd, or without the means for that namespace, the tests
that need the server are skipped with the reason.
"""

import asyncio
import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = Path("/usr/sbin/sshd")
PRIVSEP_DIR = Path("/run/sshd")
START_TIMEOUT = 2.0  # seconds for sshd to listen
HOME_FILES = {"kessai_a.csv": b"a,b\n", "kessai_b.csv": b"c,d\n", "readme.txt": b"hello\n"}


@dataclass(frozen=True)
class SftpServer:
    host: str
    port: int
    username: str
    client_key: str  # private key text (OpenSSH format), authorised on the server
    host_key_fingerprint: str  # "SHA256:…" of the server's host key
    home: Path  # the login directory
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def skip_reason() -> str | None:
    if not SSHD.exists():
        return f"OpenSSH sshd がありません ({SSHD}; `make system-deps` で openssh-server を導入)"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen がありません (openssh-client)"
    if not PRIVSEP_DIR.is_dir():
        if os.geteuid() != 0:
            return f"{PRIVSEP_DIR} がなく、root でないため sshd を起動できません"
        if shutil.which("unshare") is None:
            return f"{PRIVSEP_DIR} がなく、unshare (util-linux) もありません"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _keygen(path: Path) -> None:
    subprocess.run(  # noqa: S603 - fixed arguments, a tool of the test machine
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kessai-test", "-f", str(path)],  # noqa: S607
        check=True,
        capture_output=True,
        timeout=10,
    )


def _fingerprint(public_key: Path) -> str:
    out = subprocess.run(  # noqa: S603 - fixed arguments
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(public_key)],  # noqa: S607
        check=True,
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout
    return out.split()[1]


def _config(root: Path, port: int, user: str, home: Path) -> str:
    return "\n".join(
        [
            f"ListenAddress 127.0.0.1:{port}",
            f"HostKey {root / 'host_key'}",
            f"PidFile {root / 'sshd.pid'}",
            f"AuthorizedKeysFile {root / 'authorized_keys'}",
            "StrictModes no",  # the temp dir sits under the world-writable /tmp
            "UsePAM no",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication yes",
            "KbdInteractiveAuthentication no",
            f"AllowUsers {user}",
            f"Subsystem sftp internal-sftp -d {home}",
            f"ForceCommand internal-sftp -d {home}",
            "AllowTcpForwarding no",
            "X11Forwarding no",
            "PermitTTY no",
            "LoginGraceTime 10",
            "LogLevel VERBOSE",
            "",
        ]
    )


def _command(config: Path) -> list[str]:
    sshd = [str(SSHD), "-D", "-e", "-f", str(config)]
    if PRIVSEP_DIR.is_dir():
        return sshd
    # A private mount namespace: the tmpfs on /run and /run/sshd exist for this sshd only.
    script = 'mount -t tmpfs -o mode=0755 kessai-test /run && mkdir /run/sshd && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *sshd]


async def _listening(port: int, proc: subprocess.Popen[bytes]) -> bool:
    for _ in range(int(START_TIMEOUT / 0.02)):
        if proc.poll() is not None:
            return False
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return True
        await asyncio.sleep(0.02)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """The listener and the per-connection children it forked: the process group we made."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=3)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # children still serving a connection


@contextlib.asynccontextmanager
async def sftp_server() -> AsyncIterator[SftpServer]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    user = getpass.getuser()
    with tempfile.TemporaryDirectory(prefix="kessai-sshd-") as tmp:
        root = Path(tmp)
        home = root / "home"
        home.mkdir()
        for name, data in HOME_FILES.items():
            (home / name).write_bytes(data)
        _keygen(root / "host_key")
        _keygen(root / "client_key")
        shutil.copy(root / "client_key.pub", root / "authorized_keys")
        port = _free_port()
        config = root / "sshd_config"
        config.write_text(_config(root, port, user, home))
        log_path = root / "sshd.log"
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(  # noqa: S603, ASYNC220 - sshd -D stays in the foreground
                _command(config),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, killed as one
            )
            try:
                if not await _listening(port, proc):
                    _stop(proc)
                    raise RuntimeError(f"sshd did not start:\n{log_path.read_text()}")
                yield SftpServer(
                    host="127.0.0.1",
                    port=port,
                    username=user,
                    client_key=(root / "client_key").read_text(),
                    host_key_fingerprint=_fingerprint(root / "host_key.pub"),
                    home=home,
                    log_path=log_path,
                )
            finally:
                _stop(proc)


@pytest.fixture
async def sftpd() -> AsyncIterator[SftpServer]:
    async with sftp_server() as server:
        yield server
