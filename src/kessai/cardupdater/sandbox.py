"""Sandbox demo of 自動洗替: the demo GMO PG account talks to the simulator's SFTP server
(started by `kessai serve`), and four demo customers have stored cards whose 洗替 the
simulator answers by its test-member rules (providers/gmo_pg/sim/sftp.py): one expiring
card renewed, one 有効性NG, one 照合エラー, one unchanged.

Move the sandbox clock to the 1st of next month (01:00 Tokyo or later): the request goes up.
Then to the 27th: 「GMO 洗替結果取得」 applies the answer and the 定期受注 search by
洗替ステータス shows it.
"""

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.accounts.secrets import write_values
from kessai.core.clock import to_tokyo
from kessai.core.db import transaction
from kessai.customers.models import CustomerCard
from kessai.providers.installed import provider

if TYPE_CHECKING:
    from kessai.services import Services

DEMO_METHOD = "gmo-pg-credit-card"
# (member id suffix, months until expiry): GMO's simulator answers members ending in 7 with
# 有効性NG and 8 with 照合エラー (its test rules); the first card expires next month and is
# renewed.
DEMO_CARDS = (("0001", 1), ("0007", 2), ("0008", 1), ("0002", 30))


def _expire(now: datetime, months: int) -> str:
    local = to_tokyo(now)
    total = local.year * 12 + local.month - 1 + months
    return f"{total // 12 % 100:02d}{total % 12 + 1:02d}"


async def seed_card_updater_demo(
    services: "Services", customer_ids: list[int], now: datetime
) -> None:
    if not services.settings.sim_sftp_port:
        return
    async with transaction(services.sessions) as s:
        method = await s.scalar(select(PaymentMethod).where(PaymentMethod.code == DEMO_METHOD))
        if method is None or method.account_id is None:
            return
        account = await s.get(ProviderAccount, method.account_id)
        assert account is not None
        # The SFTP side of the account's own provider's simulator, as it declares it.
        declared = provider(account.connector)
        sandbox = declared.sandbox if declared else None
        if sandbox is None or sandbox.file_settings is None:
            return
        write_values(
            services.keyring,
            account,
            {**sandbox.file_settings(services.settings), "auto_card_update": True},
        )
        have = set(
            (
                await s.scalars(
                    select(CustomerCard.member_id).where(CustomerCard.account_id == account.id)
                )
            ).all()
        )
        for customer_id, (suffix, months) in zip(customer_ids, DEMO_CARDS, strict=False):
            member_id = f"kessai-demo-{suffix}"
            if member_id in have:
                continue
            s.add(
                CustomerCard(
                    customer_id=customer_id,
                    account_id=account.id,
                    payment_method_id=method.id,
                    member_id=member_id,
                    card_seq="0",
                    masked_number="411111******1111",
                    expire=_expire(now, months),
                    brand="VISA",
                    created_at=now - timedelta(days=40),
                )
            )
