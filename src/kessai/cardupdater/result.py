"""The 27th: fetch the month's result file, check every line, apply it whole or not at all.

In one transaction: the run is taken by compare-and-set (結果待ち → 反映済み, so a file fetched
twice or by two workers is applied once), every line is checked and staged, lines that are
malformed, repeated or name a card this run did not send reject the whole file with their
line numbers, and only then do the cards take their 洗替判定結果, new expiry and masked number.
A rejected file rolls everything back: the run is still 結果待ち and nothing was applied.
"""

import hashlib
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kessai.accounts.models import ProviderAccount
from kessai.accounts.secrets import connector_settings
from kessai.cardupdater import repository as repo
from kessai.cardupdater.events import emit_updater_ng
from kessai.cardupdater.models import UpdaterRun
from kessai.cardupdater.request import ids_of, layout_of
from kessai.cardupdater.transfer import download, target_of
from kessai.core.db import transaction
from kessai.core.errors import KessaiError
from kessai.customers.updater import UpdaterResult
from kessai.providers.gmo_files import FileFormatError, FileLayout

if TYPE_CHECKING:
    from kessai.services import Services

STAGE_ROWS = 5000
MAX_REPORTED = 20  # line errors named in the message; the count says how many in all
_MEMBER_ID = re.compile(r"[\x21-\x7e]{1,60}")
_CARD_SEQ = re.compile(r"[0-9]{1,10}")
_EXPIRE = re.compile(r"[0-9]{2}(0[1-9]|1[0-2])")
_MASKED = re.compile(r"[0-9*]{8,25}")


class ResultNotReady(KessaiError):
    status_code = 409
    code = "updater_result_not_ready"


class MalformedResult(KessaiError):
    status_code = 422
    code = "updater_result_malformed"


@dataclass(frozen=True)
class Applied:
    run_id: int
    path: str
    lines: int
    cards: int
    already: bool = False
    counts: dict[str, int] = field(default_factory=dict)  # 洗替判定結果 → cards


_RESULTS = frozenset(r.value for r in UpdaterResult)


def check_line(line_no: int, cells: dict[str, str]) -> tuple[Any, ...]:
    """One result line as a staged row (repository.LINE_COLUMNS after the run id);
    FileFormatError says what is wrong with it."""
    member_id, card_seq, result = cells["member_id"], cells["card_seq"], cells["result"]
    if not _MEMBER_ID.fullmatch(member_id):
        raise FileFormatError(line_no, "会員IDが正しくありません")
    if not _CARD_SEQ.fullmatch(card_seq):
        raise FileFormatError(line_no, "カード登録連番が正しくありません")
    if result not in _RESULTS:
        raise FileFormatError(line_no, f"洗替判定結果「{result[:10]}」は0〜3ではありません")
    masked = cells.get("masked_number") or None
    if masked is not None and (not _MASKED.fullmatch(masked) or "*" not in masked):
        # Never stored, never echoed: a number without a mask may be a real card number.
        raise FileFormatError(line_no, "カード番号がマスクされていません")
    expire = cells.get("expire") or None
    if expire is not None and not _EXPIRE.fullmatch(expire):
        raise FileFormatError(line_no, "有効期限はYYMM(例: 2812)で記載されている必要があります")
    return (line_no, member_id, card_seq, result, masked, expire)


def _lines(local: Path) -> Iterator[bytes]:
    with local.open("rb") as f:
        yield from f


def _rejected(path: str, errors: list[str], total: int) -> MalformedResult:
    more = f" ほか{total - len(errors)}件" if total > len(errors) else ""
    return MalformedResult(
        f"洗替結果ファイル「{path}」に誤りがあるため、反映しませんでした"
        f"(誤り{total}件): " + " / ".join(errors) + more,
        detail={"path": path, "errors": errors, "error_count": total},
    )


async def stage_file(s: Any, run_id: int, layout: FileLayout, local: Path, path: str) -> int:
    """Check and stage every line of the file; the line count. Raises MalformedResult."""
    errors: list[str] = []
    total_errors = 0
    batch: list[tuple[Any, ...]] = []
    lines = 0
    for line_no, cells in layout.decode_lines(_lines(local)):
        try:
            if isinstance(cells, FileFormatError):
                raise cells
            row = check_line(line_no, cells)
        except FileFormatError as exc:
            total_errors += 1
            if len(errors) < MAX_REPORTED:
                errors.append(str(exc))
            continue
        lines += 1
        if total_errors:
            continue  # rejected anyway: only the errors are still of interest
        batch.append((run_id, *row))
        if len(batch) >= STAGE_ROWS:
            await repo.stage_lines(s, batch)
            batch.clear()
    if total_errors:
        raise _rejected(path, errors, total_errors)
    await repo.stage_lines(s, batch)
    await repo.analyze_lines(s)
    for finder, why in (
        (repo.duplicate_lines, "同じ会員ID・カード登録連番の行が前にあります"),
        (repo.unknown_lines, "今月の洗替依頼で送っていないカードです"),
    ):
        found = await finder(s, run_id, MAX_REPORTED + 1)
        if found:
            raise _rejected(path, [f"{n}行目: {why}" for n in found[:MAX_REPORTED]], len(found))
    return lines


async def fetch_and_apply(
    services: "Services", account: ProviderAccount, run: UpdaterRun, job_id: int
) -> Applied:
    settings = connector_settings(account, services.keyring)
    files = layout_of(settings)
    target = target_of(settings)
    month = date.fromisoformat(f"{run.month}-01")
    path = files.result_path(ids_of(settings), month)
    with tempfile.TemporaryDirectory(prefix="kessai-updater-") as tmp:
        local = Path(tmp) / "result.csv"
        size = await download(target, path, local)
        if size is None:
            raise ResultNotReady(
                f"洗替結果ファイル「{path}」はまだSFTPサーバにありません",
                detail={"path": path},
            )
        digest = _sha256(local)
        now = services.clock.now()
        async with transaction(services.sessions) as s:
            if not await repo.claim_for_applying(s, run.id, job_id, now):
                return Applied(run.id, path, run.result_lines or 0, 0, already=True)
            lines = await stage_file(s, run.id, files.result, local, path)
            cards = await repo.apply_staged(s, run.id, now)
            await emit_updater_ng(s, run.id, now, source="自動洗替")
            await repo.record_result(s, run.id, path, digest, lines, now)
            counts = await repo.result_counts(s, run.id)
    return Applied(run.id, path, lines, cards, counts=counts)


def _sha256(local: Path) -> str:
    digest = hashlib.sha256()
    with local.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
