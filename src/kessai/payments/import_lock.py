"""While 伝票番号一括登録 (出荷CSVインポート) runs, no one else changes an order's 決済ステータス
or 配送ステータス (seed 002: 伝票番号一括登録処理中は、決済ステータス、配送ステータスを変更しない
でください): the import sets 配送伝票番号 and 発送完了日 and may take each order to 売上 or
決済完了, and a change beside it would race it row by row.

Refused here, at every door an operator uses (API payment actions, the admin's buttons, 決済状況
一括変更, 決済状況CSV一括更新); the import's own steps go to the engine directly. A new order's
オーソリ (the storefront's checkout) and 決済照会 change nothing the import touches.
"""

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kessai.core.db import read_transaction
from kessai.core.errors import KessaiError
from kessai.jobs import repository as jobs_repo
from kessai.payments.status import Action

SHIPMENT_IMPORT_KIND = "shipment_import"
SHIPMENT_IMPORT_NAME = "出荷CSVインポート"
FREE = frozenset({Action.AUTHORIZE, Action.RECONCILE})
MESSAGE = (
    "伝票番号一括登録(出荷CSVインポート)の処理中は、決済ステータス・配送ステータスを"
    "変更できません。ジョブ管理でジョブ {job_id} の完了を確かめてから、もう一度実行してください"
)


class ShipmentImportRunning(KessaiError):
    status_code = 409
    code = "shipment_import_running"


async def refuse_during_shipment_import(
    sessions: async_sessionmaker[AsyncSession], actions: Iterable[Action | str]
) -> None:
    """ShipmentImportRunning when an import is waiting or running and an action changes state."""
    if all(Action(a) in FREE for a in actions):
        return
    async with read_transaction(sessions) as s:
        job_id = await jobs_repo.busy_job(s, SHIPMENT_IMPORT_KIND)
    if job_id is not None:
        raise ShipmentImportRunning(MESSAGE.format(job_id=job_id), detail={"job_id": job_id})
