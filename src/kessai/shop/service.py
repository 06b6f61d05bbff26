"""Reading and changing the shop's settings (one row of app_settings). Never commits."""

from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.core.errors import InvalidInput
from kessai.core.models import AppSetting
from kessai.core.upsert import dialect_insert
from kessai.history.repository import record_changes
from kessai.shop.schemas import ShopSettings, ShopSettingsPatch

SHOP_SETTINGS_KEY = "shop_settings"
# 変更履歴 of the settings: one entity, one id.
HISTORY_ENTITY = "shop_settings"


async def get_shop_settings(session: AsyncSession) -> ShopSettings:
    row = await session.get(AppSetting, SHOP_SETTINGS_KEY)
    if row is None:
        return ShopSettings()
    return ShopSettings.model_validate(row.value)


async def update_shop_settings(
    session: AsyncSession, patch: ShopSettingsPatch, *, actor: str, now: datetime
) -> ShopSettings:
    # The row exists and is held before it is read: two changes at once both apply.
    await session.execute(
        dialect_insert(session, AppSetting)
        .values(key=SHOP_SETTINGS_KEY, value=ShopSettings().model_dump(mode="json"))
        .on_conflict_do_nothing(index_elements=["key"])
    )
    row = await session.get(
        AppSetting, SHOP_SETTINGS_KEY, with_for_update=True, populate_existing=True
    )
    assert row is not None
    before = ShopSettings.model_validate(row.value).model_dump(mode="json")
    given = patch.model_dump(mode="json", exclude_unset=True)
    try:
        updated = ShopSettings.model_validate({**before, **given})
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors(include_url=False)
        ]
        raise InvalidInput(
            "ショップ設定の値が正しくありません", detail={"errors": errors}
        ) from None
    after = updated.model_dump(mode="json")
    row.value = after
    await session.flush()
    await record_changes(
        session,
        entity=HISTORY_ENTITY,
        entity_id=1,
        changes={k: (_text(before.get(k)), _text(after[k])) for k in after},
        actor=actor,
        at=now,
        reason="ショップ設定の変更",
    )
    return updated


def _text(value: Any) -> Any:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return value
