"""A shop billing 定期受注 through GMO PG: one stored card saved at the simulator
(SaveMember + SaveCard with a token, as a storefront does) and N due subscriptions
bulk-inserted with SQLAlchemy Core."""

from collections import Counter
from datetime import date, datetime

import aiohttp
from sqlalchemy import insert
from starlette.applications import Starlette

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.core.db import transaction
from kessai.customers.models import Customer, CustomerCard
from kessai.providers.gmo_pg import codec
from kessai.providers.gmo_pg.simulator import (
    SUCCESS_CARDS,
    TEST_SHOP_ID,
    TEST_SHOP_PASS,
    TEST_SITE_ID,
    TEST_SITE_PASS,
)
from kessai.services import Services
from kessai.subscriptions.models import Subscription

MEMBER_ID = "kessai-teiki-0001"


def exec_tran_results(simulator: Starlette) -> Counter[tuple[str, str]]:
    """(OrderID, result) of every ExecTran the simulator answered."""
    calls = simulator.state.simulator.calls
    return Counter((c.ref, c.result) for c in calls if c.api == "ExecTran")


async def _idpass(
    http: aiohttp.ClientSession, url: str, api: str, params: dict[str, str]
) -> dict[str, str]:
    async with http.post(
        f"{url}/payment/{api}.idPass",
        data=codec.encode_request(params),
        headers={"Content-Type": codec.CONTENT_TYPE},
    ) as r:
        reply = codec.parse_response(await r.read())
    assert not reply.get("ErrInfo"), f"{api}: {reply}"
    return reply


async def saved_card(sim_url: str) -> str:
    """The CardSeq of a test card saved for MEMBER_ID at the simulator."""
    site = {"SiteID": TEST_SITE_ID, "SitePass": TEST_SITE_PASS, "MemberID": MEMBER_ID}
    async with aiohttp.ClientSession() as http:
        await _idpass(http, sim_url, "SaveMember", site)
        body = {"cardno": SUCCESS_CARDS[0], "expire": "3012", "securitycode": "123"}
        async with http.post(f"{sim_url}/token", json=body) as r:
            token = (await r.json())["tokenObject"]["token"][0]
        card = await _idpass(http, sim_url, "SaveCard", {**site, "Token": token})
    return card["CardSeq"]


async def seed_subscriptions(
    services: Services, sim_url: str, count: int, ship_on: date, now: datetime
) -> list[int]:
    """A GMO PG card method, one customer and card, and `count` 有効 subscriptions due."""
    card_seq = await saved_card(sim_url)
    async with transaction(services.sessions) as s:
        account = ProviderAccount(
            provider="gmo_pg",
            name="GMO PG (定期)",
            connector="gmo_pg",
            settings={
                "shop_id": TEST_SHOP_ID,
                "shop_pass": TEST_SHOP_PASS,
                "site_id": TEST_SITE_ID,
                "site_pass": TEST_SITE_PASS,
                "endpoint": sim_url,
            },
            created_at=now,
            updated_at=now,
        )
        s.add(account)
        await s.flush()
        method = PaymentMethod(
            code="teiki-card",
            name="クレジットカード (定期)",
            provider="gmo_pg",
            method_type="credit_card",
            account_id=account.id,
            cancel_api_link=True,
            created_at=now,
            updated_at=now,
        )
        customer = Customer(name="定期 花子", email="teiki@example.jp", created_at=now)
        s.add_all([method, customer])
        await s.flush()
        card = CustomerCard(
            customer_id=customer.id,
            account_id=account.id,
            payment_method_id=method.id,
            member_id=MEMBER_ID,
            card_seq=card_seq,
            masked_number="411111******1111",
            expire="3012",
            created_at=now,
        )
        s.add(card)
        await s.flush()
        rows = [
            {
                "number": f"{9_000_000_000 + i:010d}",
                "customer_id": customer.id,
                "payment_method_id": method.id,
                "card_id": card.id,
                "items": [
                    {"name": "青汁 30包", "sku": "AOJIRU-30", "quantity": 1, "unit_price": 5_500}
                ],
                "amount": 5_500,
                "tax": 500,
                "cycle_kind": "months",
                "cycle_interval": 1,
                "cycle_day": ship_on.day,
                "next_ship_on": ship_on,
                "next_delivery_on": None,
                "status": "active",
                "cycle": 0,
                "version": 0,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(count)
        ]
        result = await s.execute(insert(Subscription).returning(Subscription.id), rows)
        return [int(r) for r in result.scalars()]
