"""Many stored cards at once (Core inserts), for transfers large enough to cut in the middle."""

from kessai.core.db import transaction
from kessai.customers.models import Customer, CustomerCard
from kessai.services import Services
from tests.cardupdater.conftest import NOVEMBER, Shop


async def add_cards(services: Services, shop: Shop, count: int, *, expire: str) -> None:
    async with transaction(services.sessions) as s:
        first = (
            (
                await s.execute(
                    Customer.__table__.insert().returning(Customer.__table__.c.id),
                    [{"name": f"顧客{i}", "created_at": NOVEMBER} for i in range(count)],
                )
            )
            .scalars()
            .all()
        )
        await s.execute(
            CustomerCard.__table__.insert(),
            [
                {
                    "customer_id": cid,
                    "account_id": shop.account_id,
                    "payment_method_id": shop.method.id,
                    "member_id": f"kessai-{cid:010d}",
                    "card_seq": "0",
                    "masked_number": "411111******1111",
                    "expire": expire,
                    "created_at": NOVEMBER,
                }
                for cid in first
            ],
        )
