"""The GMO PG simulator's SFTP side (SFTP 連携オプション): a real SFTP server (asyncssh) that
answers each 自動洗替 request file with a result file, in kessai's default layout
(providers/gmo_files.py).

Log in with TEST_SFTP_USER / TEST_SFTP_PASSWORD; the host key is generated on first start and
kept in the root directory's parent (so its fingerprint stays the same across restarts).
A request uploaded as upload/<site>_<yyyymm>_cardupdate.csv (written whole, then renamed, as
kessai does; a plain upload under the final name works too) is answered at once with
download/<site>_<yyyymm>_cardupdate_result.csv. kessai fetches it from the 27th.

洗替判定結果 per line, first rule that applies:
- a card the simulator holds (saved by SaveCard for that member and seq), by its number:
  UPDATER_INVALID_CARD → 1 有効性NG, UPDATER_MISMATCH_CARD → 2 照合エラー,
  UPDATER_INPUT_ERROR_CARD → 3 入力データエラー, UPDATER_REPLACED_CARD → 0 with a new card
  (UPDATER_NEW_CARD, new expiry); any other card expiring in the result month or the next
  → 0 with the expiry five years later; else 0 unchanged. The simulator's card changes too.
- a member the simulator does not hold (test members), by the last digit of the member id:
  7 → 1 有効性NG, 8 → 2 照合エラー, 9 → 3 入力データエラー; otherwise an expiry in the
  result month or the next → 0 renewed five years later (same masked number), else 0.
- a line that does not parse (member id, card seq, YYMM) → 3 入力データエラー.
"""

import logging
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import asyncssh

from kessai.core.settings import Settings, sqlite_path
from kessai.providers.gmo_files import DEFAULT_REQUEST_COLUMNS, updater_layout
from kessai.providers.gmo_pg.sim.state import State, StoredCard

log = logging.getLogger("kessai.sim.gmo_pg.sftp")

TEST_SFTP_USER = "kessai-sftp"
TEST_SFTP_PASSWORD = "sftp-pass"  # noqa: S105 - the public test login of the simulator
UPDATER_INVALID_CARD = "4000000000000010"
UPDATER_MISMATCH_CARD = "4000000000000044"
UPDATER_INPUT_ERROR_CARD = "4000000000000069"
UPDATER_REPLACED_CARD = "4242424242424242"
UPDATER_NEW_CARD = "4000000000000077"  # what UPDATER_REPLACED_CARD becomes
REQUEST_NAME = re.compile(r"(?P<site>[A-Za-z0-9._-]+)_(?P<month>\d{6})_cardupdate\.csv")
_BY_NUMBER = {UPDATER_INVALID_CARD: "1", UPDATER_MISMATCH_CARD: "2", UPDATER_INPUT_ERROR_CARD: "3"}
_BY_LAST_DIGIT = {"7": "1", "8": "2", "9": "3"}


def _months(month: date) -> tuple[str, str]:
    nxt = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return f"{month:%y%m}", f"{nxt:%y%m}"


def _later(expire: str, years: int = 5) -> str:
    return f"{(int(expire[:2]) + years) % 100:02d}{expire[2:]}"


def _masked(number: str) -> str:
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


_BY_MASKED = {_masked(number): result for number, result in _BY_NUMBER.items()}


@dataclass
class UpdaterRules:
    """Decides each request line's result, changing the simulator's cards as GMO would;
    `changed` gathers the (site, member) whose cards changed, for the simulator's store."""

    state: State
    changed: set[tuple[str, str]] = field(default_factory=set)

    def answer(self, site_id: str, month: date, cells: dict[str, str]) -> list[str]:
        member_id, seq, expire = cells["member_id"], cells["card_seq"], cells["expire"]
        if not (member_id and seq.isdigit() and re.fullmatch(r"\d{2}(0[1-9]|1[0-2])", expire)):
            return [member_id, seq, "3", "", ""]
        expiring = expire in _months(month)
        member = self.state.members.get((site_id, member_id))
        saved = member.card(int(seq)) if member is not None else None
        if saved is None:
            result = _BY_LAST_DIGIT.get(member_id[-1:], "0")
            renewed = result == "0" and expiring
            return [member_id, seq, result, "", _later(expire) if renewed else ""]
        card = saved.card
        shown = _masked(card.number)  # a card read back from the store keeps only this
        if shown in _BY_MASKED:
            return [member_id, seq, _BY_MASKED[shown], "", ""]
        if shown == _masked(UPDATER_REPLACED_CARD):
            saved.card = StoredCard(UPDATER_NEW_CARD, _later(card.expire), card.holder_name)
            self.changed.add((site_id, member_id))
            return [member_id, seq, "0", _masked(UPDATER_NEW_CARD), saved.card.expire]
        if card.expire in _months(month):
            saved.card = StoredCard(card.number, _later(card.expire), card.holder_name)
            self.changed.add((site_id, member_id))
            return [member_id, seq, "0", _masked(card.number), saved.card.expire]
        return [member_id, seq, "0", "", ""]


def answer_request(rules: UpdaterRules, name: str, data: bytes) -> tuple[str, bytes] | None:
    """The result file's name and content for a request file, or None for another file."""
    match = REQUEST_NAME.fullmatch(name)
    if match is None:
        return None
    site_id, raw_month = match["site"], match["month"]
    month = date(int(raw_month[:4]), int(raw_month[4:]), 1)
    files = updater_layout({})
    rows = []
    for _, cells in files.request.decode_lines(data.splitlines(keepends=True)):
        if isinstance(cells, dict) and set(DEFAULT_REQUEST_COLUMNS) <= set(cells):
            result = rules.answer(site_id, month, cells)
            rows.append(dict(zip(files.result.columns, result, strict=True)))
    result_name = f"{site_id}_{raw_month}_cardupdate_result.csv"
    return result_name, files.result.header_line() + files.result.encode_rows(rows)


class _Login(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == TEST_SFTP_USER and password == TEST_SFTP_PASSWORD


def _answer_upload(root: Path, rules: UpdaterRules, local: Path) -> tuple[str, bytes] | None:
    if local.parent != root / "upload" or not local.is_file():
        return None
    return answer_request(rules, local.name, local.read_bytes())


def _write_result(root: Path, name: str, content: bytes) -> None:
    (root / "download").mkdir(exist_ok=True)
    (root / "download" / name).write_bytes(content)
    log.info("洗替結果 %s (%d bytes)", name, len(content))


# Writes the members whose cards an answer changed to the simulator's store.
Persist = Callable[[set[tuple[str, str]]], Awaitable[None]]


def _sftp_factory(
    root: Path, rules: UpdaterRules, persist: Persist | None
) -> Callable[..., asyncssh.SFTPServer]:
    class GmoSftp(asyncssh.SFTPServer):
        def __init__(self, chan: Any) -> None:
            super().__init__(chan, chroot=str(root).encode())

        async def _answer(self, path: bytes) -> None:
            await self._answer_local(Path(self.map_path(path).decode()))

        async def _answer_local(self, local: Path) -> None:
            answered = _answer_upload(root, rules, local)
            if answered is None:
                return
            changed, rules.changed = rules.changed, set()
            if persist is not None and changed:  # kept before the answer is there to fetch
                await persist(changed)
            _write_result(root, *answered)

        async def rename(self, oldpath: bytes, newpath: bytes) -> None:
            super().rename(oldpath, newpath)
            await self._answer(newpath)

        async def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
            super().posix_rename(oldpath, newpath)
            await self._answer(newpath)

        async def close(self, file_obj: object) -> None:
            super().close(file_obj)
            name = getattr(file_obj, "name", None)
            if isinstance(name, str | bytes):  # a plain upload under the request's own name
                await self._answer_local(Path(os.fsdecode(name)))

    return GmoSftp


def sandbox_root(settings: Settings) -> Path:
    """Where `kessai serve` keeps the sandbox's SFTP files (and, beside them, the host key):
    next to the SQLite database, else in ./var."""
    db = sqlite_path(settings.database_url)
    return (db.parent if db is not None else Path("var")) / "sim-gmo-pg-sftp"


def host_key_path(root: Path) -> Path:
    return root.parent / f"{root.name}-host-key"


def host_key(path: Path) -> asyncssh.SSHKey:
    """The simulator's host key, made once and kept."""
    if path.exists():
        return asyncssh.read_private_key(path)
    key = asyncssh.generate_private_key("ssh-ed25519")
    path.parent.mkdir(parents=True, exist_ok=True)
    key.write_private_key(path)
    path.chmod(0o600)
    return key


def _prepare(root: Path) -> tuple[Path, asyncssh.SSHKey]:
    root = root.resolve()
    (root / "upload").mkdir(parents=True, exist_ok=True)
    (root / "download").mkdir(parents=True, exist_ok=True)
    return root, host_key(host_key_path(root))


@dataclass
class SftpSimulator:
    server: asyncssh.SSHAcceptor
    port: int
    fingerprint: str  # "SHA256:…", for the account's SFTP ホスト鍵フィンガープリント
    root: Path

    def close(self) -> None:
        self.server.close()


async def start_sftp_simulator(
    state: State,
    root: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    persist: Persist | None = None,
) -> SftpSimulator:
    """Serve the simulator's SFTP side; `root` holds upload/ and download/; `persist`
    writes the members an answer changed (GmoSimulator.keep_members)."""
    root, key = _prepare(root)
    server = await asyncssh.create_server(
        _Login,
        host,
        port,
        server_host_keys=[key],
        sftp_factory=_sftp_factory(root, UpdaterRules(state), persist),
        allow_scp=False,
    )
    bound = server.sockets[0].getsockname()[1]
    return SftpSimulator(server, bound, key.get_fingerprint("sha256"), root)
