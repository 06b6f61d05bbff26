"""Where the master key comes from: KESSAI_SECRET_KEY, KESSAI_SECRET_KEY_FILE, or in the
sandbox a key file generated once, so a fresh checkout runs without any set-up.

Production never generates a key: a key nobody kept would lose every secret with the
machine, so starting without one is refused.
"""

import contextlib
import errno
import os
from pathlib import Path

from kessai.core.crypto import Keyring, SecretBox, generate_key, parse_key
from kessai.core.errors import ConfigurationError
from kessai.core.settings import DEFAULT_SANDBOX_SECRET_KEY_FILE, Settings

_NO_KEY_IN_PRODUCTION = (
    "本番環境(KESSAI_ENV=production)ではマスターキーの設定が必要です: "
    "KESSAI_SECRET_KEY (32バイトの鍵を base64 か 16進数で) か、"
    "KESSAI_SECRET_KEY_FILE (鍵を書いたファイルのパス) を設定してください"
    " (生成例: openssl rand -base64 32)。この鍵を失うと保存済みの秘密情報は復号できません"
)


def read_key_file(path: Path) -> bytes:
    """The master key held in ``path`` (base64 or hex, surrounding whitespace ignored)."""
    source = f"マスターキーファイル {path}"
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise ConfigurationError(f"{source} が見つかりません") from None
    except PermissionError:
        raise ConfigurationError(f"{source} を読み取る権限がありません") from None
    except IsADirectoryError:
        raise ConfigurationError(f"{source} はファイルではありません") from None
    except UnicodeDecodeError:
        raise ConfigurationError(
            f"{source} の形式が正しくありません: base64 か 16進数の鍵だけを書いてください"
        ) from None
    except OSError as exc:
        raise ConfigurationError(f"{source} を読み取れません: {exc.strerror}") from None
    return parse_key(text, source=source)


def ensure_sandbox_key_file(path: Path = DEFAULT_SANDBOX_SECRET_KEY_FILE) -> bytes:
    """The key in ``path``, written there first (mode 0600) if the file does not exist yet.

    Two processes starting together agree on one key: the new file appears whole, by a
    hard link that fails if another process got there first.
    """
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _create_once(path, (generate_key() + "\n").encode("ascii"))
        except OSError as exc:
            raise ConfigurationError(
                f"サンドボックス用のマスターキーファイル {path} を作成できません: {exc.strerror}"
            ) from None
    return read_key_file(path)


def _create_once(path: Path, content: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        _write_new(tmp, content)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process wrote it first: both use that key
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            # No hard links on this file system: exclusive create, a tiny window of a half file.
            with contextlib.suppress(FileExistsError):
                _write_new(path, content)
    finally:
        tmp.unlink(missing_ok=True)


def _write_new(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)


def load_master_key(
    settings: Settings, *, sandbox_key_file: Path = DEFAULT_SANDBOX_SECRET_KEY_FILE
) -> bytes:
    """The configured master key; ConfigurationError (Japanese) when it is missing or bad."""
    if settings.secret_key is not None and settings.secret_key_file is not None:
        raise ConfigurationError(
            "KESSAI_SECRET_KEY と KESSAI_SECRET_KEY_FILE の両方が設定されています。"
            "どちらか一方だけを設定してください"
        )
    if settings.secret_key is not None:
        return parse_key(settings.secret_key, source="KESSAI_SECRET_KEY")
    if settings.secret_key_file is not None:
        return read_key_file(settings.secret_key_file)
    if not settings.sandbox:
        raise ConfigurationError(_NO_KEY_IN_PRODUCTION)
    return ensure_sandbox_key_file(sandbox_key_file)


def load_secret_box(
    settings: Settings, *, sandbox_key_file: Path = DEFAULT_SANDBOX_SECRET_KEY_FILE
) -> SecretBox:
    return SecretBox(load_master_key(settings, sandbox_key_file=sandbox_key_file))


def load_keyring(
    settings: Settings, *, sandbox_key_file: Path = DEFAULT_SANDBOX_SECRET_KEY_FILE
) -> Keyring:
    """The current key (seals) with KESSAI_SECRET_KEY_PREVIOUS (still opened during a rotation)."""
    older = [
        SecretBox(parse_key(text, source=f"KESSAI_SECRET_KEY_PREVIOUS ({i}番目)"))
        for i, text in enumerate(settings.previous_secret_keys, start=1)
    ]
    return Keyring(load_secret_box(settings, sandbox_key_file=sandbox_key_file), older)
