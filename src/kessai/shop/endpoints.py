"""/api/v1/shop/settings: マイページ設定, 発送日カレンダー, メールアドレス."""

from fastapi import APIRouter

from kessai.core.db import read_transaction, transaction
from kessai.shop.schemas import ShopSettings, ShopSettingsPatch
from kessai.shop.service import get_shop_settings, update_shop_settings
from kessai.web.deps import PrincipalDep, ServicesDep

router = APIRouter(prefix="/api/v1/shop", tags=["ショップ設定"])


@router.get("/settings", response_model=ShopSettings, summary="ショップ設定を取得")
async def get_settings(services: ServicesDep, _: PrincipalDep) -> ShopSettings:
    async with read_transaction(services.sessions) as s:
        return await get_shop_settings(s)


@router.patch("/settings", response_model=ShopSettings, summary="ショップ設定を変更")
async def patch_settings(
    patch: ShopSettingsPatch, services: ServicesDep, principal: PrincipalDep
) -> ShopSettings:
    async with transaction(services.sessions) as s:
        return await update_shop_settings(s, patch, actor=principal.actor, now=services.clock.now())
