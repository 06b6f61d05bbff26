"""The monthly 洗替依頼: choose the cards (seed 000), write the request file, upload it.

Nothing on a card changes here. A failed upload leaves the month's run 送信待ち with the
reason, and the next try (hourly until the deadline day) chooses and sends again; a try
after a success finds the run 結果待ち and does nothing. The file is written to a local
temporary file row by row, so memory stays flat whatever the number of cards.
"""

import hashlib
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

from kessai.accounts.models import ProviderAccount
from kessai.accounts.secrets import connector_settings
from kessai.cardupdater import repository as repo
from kessai.cardupdater.status import RunStatus
from kessai.cardupdater.transfer import TransferError, target_of, upload
from kessai.core.clock import TOKYO
from kessai.core.db import transaction
from kessai.providers.gmo_files import UpdaterFiles, updater_layout

if TYPE_CHECKING:
    from kessai.services import Services


@dataclass(frozen=True)
class SentRequest:
    run_id: int
    path: str
    targets: int
    first: bool
    already: bool  # sent by an earlier try: nothing done now


def month_start(month: date) -> datetime:
    """0時 on the 1st in Tokyo: cards registered before it are 前月末までに登録された."""
    return datetime.combine(month.replace(day=1), time(0), tzinfo=TOKYO)


def ids_of(settings: dict[str, object]) -> dict[str, str]:
    return {k: str(settings.get(k) or "") for k in ("site_id", "shop_id")}


def layout_of(settings: dict[str, object]) -> UpdaterFiles:
    try:
        return updater_layout(settings)
    except ValueError as exc:
        raise TransferError(
            f"自動洗替 ファイル設定が正しくありません: {exc}",
            code="layout_invalid",
            retryable=False,
        ) from None


async def send_request(services: "Services", account: ProviderAccount, month: date) -> SentRequest:
    settings = connector_settings(account, services.keyring)
    files = layout_of(settings)
    target = target_of(settings)
    path = files.request_path(ids_of(settings), month)
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        run = await repo.get_or_create_run(s, account.id, month, now)
        if run.status != RunStatus.SELECTED.value:
            return SentRequest(run.id, run.request_path or path, run.targets, run.first, True)
        first = not await repo.had_run_before(s, account.id, month)
        count = await repo.select_targets(s, run, month_start(month), month, first)
        run_id = run.id
    with tempfile.TemporaryDirectory(prefix="kessai-updater-") as tmp:
        local = Path(tmp) / "request.csv"
        digest = await write_request(services, run_id, files, local)
        await upload(target, local, path)
    async with transaction(services.sessions) as s:
        await repo.mark_uploaded(s, run_id, path, digest, services.clock.now())
    return SentRequest(run_id, path, count, first, False)


async def write_request(services: "Services", run_id: int, files: UpdaterFiles, local: Path) -> str:
    """Stream the run's cards into the request file; its SHA-256."""
    digest = hashlib.sha256()

    def put(data: bytes) -> None:
        out.write(data)
        digest.update(data)

    async with transaction(services.sessions) as s:
        with local.open("wb") as out:
            put(files.request.header_line())
            async for rows in repo.stream_targets(s, run_id):
                put(files.request.encode_rows(rows))
    return digest.hexdigest()


async def note_failure(
    services: "Services", account: ProviderAccount, month: date, error: str
) -> None:
    async with transaction(services.sessions) as s:
        run = await repo.get_or_create_run(s, account.id, month, services.clock.now())
        await repo.note_failure(s, run.id, error, services.clock.now())
