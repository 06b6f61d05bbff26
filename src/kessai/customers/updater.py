"""洗替ステータス: the last 自動洗替 result of a stored card (GMO PG 洗替判定結果).

Stored as the provider's own digit, so the 洗替結果 file is written through unchanged.
A card without any result yet (never sent to 洗替) has none.
"""

from enum import StrEnum

from kessai.core.errors import InvalidInput
from kessai.core.labels import by_code_or_label


class UpdaterResult(StrEnum):
    VALID = "0"  # 有効性OK
    INVALID = "1"  # 有効性NG
    MISMATCH = "2"  # 照合エラー
    INPUT_ERROR = "3"  # 入力データエラー

    @property
    def label(self) -> str:
        return UPDATER_RESULT_LABELS[self]

    @property
    def blocks_charging(self) -> bool:
        """Seed 000: charging such a card can cost the shop its merchant contract."""
        return self is not UpdaterResult.VALID


UPDATER_RESULT_LABELS: dict[UpdaterResult, str] = {
    UpdaterResult.VALID: "有効性OK",
    UpdaterResult.INVALID: "有効性NG",
    UpdaterResult.MISMATCH: "照合エラー",
    UpdaterResult.INPUT_ERROR: "入力データエラー",
}
NOT_CHECKED_LABEL = "未洗替"
NOT_CHECKED = "none"  # the 洗替ステータス filter's value for cards never sent to 洗替


def updater_label(raw: str | None) -> str:
    return NOT_CHECKED_LABEL if raw is None else UpdaterResult(raw).label


def blocks_charging(raw: str | None) -> bool:
    return raw is not None and UpdaterResult(raw).blocks_charging


def parse_updater_filter(raw: str) -> str:
    """洗替ステータス by code (1), label (有効性NG) or 'none' / 未洗替 for cards not yet checked."""
    if raw in (NOT_CHECKED, NOT_CHECKED_LABEL):
        return NOT_CHECKED
    result = by_code_or_label(UpdaterResult, raw)
    if result is not None:
        return result.value
    raise InvalidInput(
        f"洗替ステータス「{raw}」はありません",
        code="unknown_updater_result",
        detail={"allowed": [r.value for r in UpdaterResult] + [NOT_CHECKED]},
    )
