"""Roles and their per-operation permissions, as the shop sets them in 設定 > ユーザー・権限.

管理者 always holds every permission (so no shop can lock itself out); 運用担当 and 閲覧のみ
start from ROLE_PERMISSIONS and may be given or refused each operation (each 決済状況一括変更
operation, 強制売上処理, 強制取消処理, account settings, secrets …). The grants live in
app_settings under one key; a session reads them when it is loaded, so a change applies to the
next request of every signed-in user. Never commits.
"""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from kessai.core.errors import InvalidInput
from kessai.core.models import AppSetting
from kessai.core.upsert import dialect_insert
from kessai.history.repository import record_changes
from kessai.users.service import ROLE_PERMISSIONS, Permission, Role

GRANTS_KEY = "role_permissions"
EDITABLE_ROLES = (Role.OPERATOR, Role.VIEWER)
HISTORY_ENTITY = "role"

PERMISSION_LABELS: dict[Permission, str] = {
    Permission.ORDERS_VIEW: "受注・定期受注・顧客の閲覧",
    Permission.ORDERS_OPERATE: "受注ごとの決済処理(売上・取消・金額変更・再オーソリ・決済照会)",
    Permission.ORDERS_FORCE_CAPTURE: "強制売上処理(決済サービス未連携)",
    Permission.ORDERS_FORCE_CANCEL: "強制取消処理(決済サービス未連携)",
    Permission.ORDERS_BULK_CAPTURE: "決済状況一括変更: 売上処理",
    Permission.ORDERS_BULK_CANCEL: "決済状況一括変更: 取消処理",
    Permission.ORDERS_BULK_REAUTHORIZE: "決済状況一括変更: 再オーソリ処理",
    Permission.ORDERS_IMPORT_SHIPMENTS: "出荷CSVインポート",
    Permission.SUBSCRIPTIONS_EDIT: "定期受注の変更",
    Permission.CUSTOMERS_NOTIFY: "決済方法変更のご案内の送信",
    Permission.ACCOUNTS_VIEW: "外部連携アカウント・支払い方法の閲覧",
    Permission.ACCOUNTS_EDIT: "外部連携アカウント・支払い方法・ショップ設定の変更(認証情報を含む)",
    Permission.ACCOUNTS_TEST: "外部連携アカウントの接続テスト",
    Permission.USERS_MANAGE: "ユーザー・権限の管理",
    Permission.SETTINGS_EDIT: "自動化設定・メールテンプレート・メール設定・Webhookの変更",
    Permission.API_KEYS_MANAGE: "APIキーの発行・失効",
}
# Only 管理者 may hold these: whoever holds them could give themselves anything else, or
# change what happens to every order (自動化設定, Webhook), or reach it by API key.
ADMIN_ONLY = frozenset(
    {Permission.USERS_MANAGE, Permission.SETTINGS_EDIT, Permission.API_KEYS_MANAGE}
)


async def role_grants(session: AsyncSession) -> dict[Role, frozenset[Permission]]:
    """Every role's permissions as the shop has set them."""
    grants = dict(ROLE_PERMISSIONS)
    row = await session.get(AppSetting, GRANTS_KEY)
    stored = row.value if row is not None else {}
    for role in EDITABLE_ROLES:
        codes = stored.get(role.value)
        if isinstance(codes, list):
            grants[role] = frozenset(p for p in Permission if p.value in codes) - ADMIN_ONLY
    return grants


def parse_permissions(codes: Iterable[str]) -> frozenset[Permission]:
    known = {p.value: p for p in Permission}
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise InvalidInput(f"権限「{unknown[0][:40]}」はありません", code="unknown_permission")
    return frozenset(known[c] for c in codes)


async def set_role_grants(
    session: AsyncSession,
    role: Role,
    permissions: frozenset[Permission],
    *,
    actor: str,
    now: datetime,
) -> frozenset[Permission]:
    if role not in EDITABLE_ROLES:
        raise InvalidInput(
            f"{role.label}の権限は変更できません(すべての操作が許可されています)",
            code="role_not_editable",
        )
    refused = permissions & ADMIN_ONLY
    if refused:
        labels = "・".join(PERMISSION_LABELS[p] for p in sorted(refused))
        raise InvalidInput(f"{labels}は管理者にのみ許可できます", code="admin_only_permission")
    # The row exists and is held before it is read: two saves at once both apply.
    await session.execute(
        dialect_insert(session, AppSetting)
        .values(key=GRANTS_KEY, value={})
        .on_conflict_do_nothing(index_elements=["key"])
    )
    row = await session.get(AppSetting, GRANTS_KEY, with_for_update=True, populate_existing=True)
    assert row is not None
    before = (await role_grants(session))[role]
    row.value = {**row.value, role.value: sorted(p.value for p in permissions)}
    await session.flush()
    await record_changes(
        session,
        entity=HISTORY_ENTITY,
        entity_id=EDITABLE_ROLES.index(role) + 1,
        changes={
            "permissions": (
                "、".join(PERMISSION_LABELS[p] for p in Permission if p in before),
                "、".join(PERMISSION_LABELS[p] for p in Permission if p in permissions),
            )
        },
        actor=actor,
        at=now,
        reason=f"{role.label}の権限を変更",
    )
    return permissions
