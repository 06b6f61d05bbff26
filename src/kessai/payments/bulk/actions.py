"""The operations of 決済状況一括変更 and 決済状況CSV一括更新, each with its own permission."""

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kessai.core.errors import KessaiError
from kessai.payments.status import Action
from kessai.users.service import Permission


@dataclass(frozen=True)
class BulkAction:
    action: Action
    label: str  # the operators' word, as the 一括変更 menu and the CSV write it
    permission: Permission


BULK_ACTIONS: dict[Action, BulkAction] = {
    a.action: a
    for a in (
        BulkAction(Action.CAPTURE, "売上処理", Permission.ORDERS_BULK_CAPTURE),
        BulkAction(Action.CANCEL, "取消処理", Permission.ORDERS_BULK_CANCEL),
        BulkAction(Action.REAUTHORIZE, "再オーソリ処理", Permission.ORDERS_BULK_REAUTHORIZE),
        BulkAction(Action.FORCE_CAPTURE, "強制売上処理", Permission.ORDERS_FORCE_CAPTURE),
        BulkAction(Action.FORCE_CANCEL, "強制取消処理", Permission.ORDERS_FORCE_CANCEL),
    )
}

# The FAQ's longer names for the forced ones.
_SUFFIX = "(決済サービス未連携)"


class NotPermitted(KessaiError):
    status_code = 403
    code = "forbidden"


def parse_action(raw: str) -> BulkAction | None:
    """An operation by its Japanese name (売上処理, 強制売上処理(決済サービス未連携)),
    the short one (再オーソリ) or its code (capture); None when it is none of them."""
    word = unicodedata.normalize("NFKC", raw).strip().replace(" ", "")
    word = word.removesuffix(unicodedata.normalize("NFKC", _SUFFIX))
    for bulk in BULK_ACTIONS.values():
        if word in (bulk.label, bulk.action.value, bulk.action.label):
            return bulk
    return None


def allowed_labels() -> str:
    return "・".join(b.label for b in BULK_ACTIONS.values())


def require_permitted(
    actions: Iterable[BulkAction], can: Callable[[Permission], bool], who: str
) -> None:
    """Refuse the whole request when `who` lacks the permission of any operation in it."""
    refused = [a.label for a in dict.fromkeys(actions) if not can(a.permission)]
    if refused:
        raise NotPermitted(
            f"{'・'.join(refused)}を実行する権限がありません({who}には許可されていません)",
            detail={"actions": refused},
        )
