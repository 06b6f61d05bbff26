"""外部連携アカウント and 支払い方法 (the flags of seed 003 live on the method)."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kessai.core.db import Base, IdType, UTCDateTime

ALL_CHANNELS_JSON = '["lp", "shop", "order_entry"]'


class ProviderAccount(Base):
    __tablename__ = "provider_accounts"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(40), index=True)
    # Which of seed 001's integrations this account is (accounts.integrations catalog code).
    integration: Mapped[str | None] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # 与信期限 in days when the shop's contract differs from the provider's default.
    authorization_days: Mapped[int | None] = mapped_column(Integer)
    # The connector that serves this account: "fake" until the real one is configured.
    connector: Mapped[str] = mapped_column(String(40), default="fake")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # never a secret
    # Secret fields, each an AES-256-GCM token (kessai.core.crypto) bound to account and field.
    secrets: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaymentMethod(Base):
    __tablename__ = "payment_methods"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(40))
    method_type: Mapped[str] = mapped_column(String(60))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("provider_accounts.id"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Where the method is offered (seed 001: LP, ショップ, 受注作成).
    channels: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: ["lp", "shop", "order_entry"], server_default=ALL_CHANNELS_JSON
    )
    min_amount: Mapped[int] = mapped_column(Integer, default=1)
    max_amount: Mapped[int] = mapped_column(Integer, default=9_999_999)
    # GMO PG 継続課金: the provider charges in its monthly batch (決済待ち → 決済完了 → 売上報告済).
    recurring: Mapped[bool] = mapped_column(Boolean, default=False)
    cancel_api_link: Mapped[bool] = mapped_column(Boolean, default=False)
    terminate_api_link: Mapped[bool] = mapped_column(Boolean, default=False)
    capture_on_authorize: Mapped[bool] = mapped_column(Boolean, default=False)
    post_capture_amount_change_link: Mapped[bool] = mapped_column(Boolean, default=False)
    gmops_cancel_link: Mapped[bool] = mapped_column(Boolean, default=False)
    gmops_modify_link: Mapped[bool] = mapped_column(Boolean, default=False)
    atobarai_com_modify_link: Mapped[bool] = mapped_column(Boolean, default=False)
    reduce_link: Mapped[bool] = mapped_column(Boolean, default=False)
    security_code_required: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
