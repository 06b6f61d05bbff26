"""A real OpenSSH sshd on a free loopback port, for SFTP tests; always stopped afterwards.

Everything lives in a temporary directory: the host key, a generated client key in a temporary
authorized_keys, the config and a login directory holding a few files. The server is
SFTP-only (ForceCommand internal-sftp) and lets in the current user (root here) with that key;
password logins are offered but always fail (the user has no password sshd could check), so
they serve the "wrong password" tests. `sftp_server(password=...)` lets the user in with that
password too, as GMO PG's SFTP server does: sshd then runs in a private mount namespace where
a copy of /etc/shadow carrying the password's hash is bound over the real one (root only).

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


def _config(root: Path, port: int, user: str, home: Path, password: bool) -> str:
    return "\n".join(
        [
            f"ListenAddress 127.0.0.1:{port}",
            f"HostKey {root / 'host_key'}",
            f"PidFile {root / 'sshd.pid'}",
            f"AuthorizedKeysFile {root / 'authorized_keys'}",
            "StrictModes no",  # the temp dir sits under the world-writable /tmp
            "UsePAM no",
            "PermitRootLogin yes" if password else "PermitRootLogin prohibit-password",
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


def _shadow(root: Path, user: str, password: str) -> Path:
    """A copy of /etc/shadow where `user` has `password` (SHA-512 crypt, made by openssl)."""
    hashed = subprocess.run(
        ["openssl", "passwd", "-6", "-stdin"],  # noqa: S607
        input=password,
        check=True,
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout.strip()
    lines = []
    for line in Path("/etc/shadow").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name == user:
            line = f"{name}:{hashed}:{rest.split(':', 1)[1]}"
        lines.append(line)
    path = root / "shadow"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o640)
    return path


def _command(config: Path, shadow: Path | None = None) -> list[str]:
    sshd = [str(SSHD), "-D", "-e", "-f", str(config)]
    if PRIVSEP_DIR.is_dir() and shadow is None:
        return sshd
    # A private mount namespace: the tmpfs on /run and /run/sshd, and the shadow copy, exist
    # for this sshd only.
    steps = []
    if not PRIVSEP_DIR.is_dir():
        steps.append("mount -t tmpfs -o mode=0755 kessai-test /run && mkdir /run/sshd")
    if shadow is not None:
        steps.append(f"mount --bind {shadow} /etc/shadow")
    script = " && ".join([*steps, 'exec "$@"'])
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
async def sftp_server(password: str | None = None) -> AsyncIterator[SftpServer]:
    reason = skip_reason()
    if reason is None and password is not None:
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            reason = "パスワードでログインできる sshd には root と unshare (util-linux) が必要です"
        elif shutil.which("openssl") is None:
            reason = "openssl がありません (パスワードのハッシュを作れません)"
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
        config.write_text(_config(root, port, user, home, password is not None))
        shadow = None if password is None else _shadow(root, user, password)
        log_path = root / "sshd.log"
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(  # noqa: S603, ASYNC220 - sshd -D stays in the foreground
                _command(config, shadow),
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
