"""定期受注のステータス (有効, 停止, キャンセル) and the one table of legal moves."""

from enum import StrEnum

from kessai.core.errors import IllegalTransition, InvalidInput
from kessai.core.labels import by_code_or_label


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"  # 有効
    PAUSED = "paused"  # 停止
    CANCELED = "canceled"  # キャンセル

    @property
    def label(self) -> str:
        return SUBSCRIPTION_STATUS_LABELS[self]


SUBSCRIPTION_STATUS_LABELS: dict[SubscriptionStatus, str] = {
    SubscriptionStatus.ACTIVE: "有効",
    SubscriptionStatus.PAUSED: "停止",
    SubscriptionStatus.CANCELED: "キャンセル",
}

# キャンセル is final: a customer who comes back starts a new 定期受注.
TRANSITIONS: dict[SubscriptionStatus, frozenset[SubscriptionStatus]] = {
    SubscriptionStatus.ACTIVE: frozenset({SubscriptionStatus.PAUSED, SubscriptionStatus.CANCELED}),
    SubscriptionStatus.PAUSED: frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.CANCELED}),
    SubscriptionStatus.CANCELED: frozenset(),
}


def parse_status(raw: str) -> SubscriptionStatus:
    """A status by its code (paused) or by the label operators use (停止)."""
    status = by_code_or_label(SubscriptionStatus, raw)
    if status is not None:
        return status
    raise InvalidInput(
        f"定期受注のステータス「{raw}」はありません",
        code="unknown_subscription_status",
        detail={"allowed": [s.value for s in SubscriptionStatus]},
    )


def require_transition(before: SubscriptionStatus, after: SubscriptionStatus) -> None:
    if after not in TRANSITIONS[before]:
        raise IllegalTransition(
            f"定期受注のステータスを「{before.label}」から「{after.label}」には変更できません",
            code="illegal_subscription_transition",
            detail={"from": before.value, "to": after.value},
        )
