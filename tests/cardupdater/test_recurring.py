"""継続課金 (seed 002) file by file: what goes into the 8th's file and what stays out, the 18th's
売上失敗 with GMO's file-content errors in words, a malformed result refused whole."""

from datetime import date, datetime

from sqlalchemy import select

from kessai.accounts.models import PaymentMethod
from kessai.core.clock import TOKYO
from kessai.core.db import transaction
from kessai.orders.models import Order
from kessai.payments.models import PaymentAttempt
from kessai.payments.plans import ActionRequest, ShipmentInput
from kessai.services import Services
from tests.cardupdater.conftest import Shop, add_card, card, jobs_of, make_shop, run_calendar
from tests.factories import make_method
from tests.sftp_server import SftpServer
from tests.subscriptions.conftest import Holder, make_subscription

SEND_FILE = "upload/tshop00012345_202701_recurring.csv"
RESULT_FILE = "download/tshop00012345_202701_recurring_result.csv"


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 30) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TOKYO)


async def recurring_method(services: Services, shop: Shop) -> PaymentMethod:
    method = await make_method(
        services, provider="gmo_pg", method_type="credit_card_recurring", recurring=True
    )
    async with transaction(services.sessions) as s:
        row = await s.get(PaymentMethod, method.id)
        assert row is not None
        row.account_id = shop.account_id
    method.account_id = shop.account_id
    return method


async def shipped_order(
    services: Services,
    shop: Shop,
    method: PaymentMethod,
    name: str,
    shipped: date,
) -> tuple[Order, int]:
    card_id = await add_card(
        services,
        shop,
        name=name,
        expire="2901",
    )
    c = await card(services, card_id)
    sub = await make_subscription(
        services, method, Holder(c.customer_id, card_id), next_ship_on=shipped
    )
    services.clock.set_now(
        datetime.combine(shipped, datetime.min.time(), tzinfo=TOKYO).replace(hour=0, minute=20)
    )
    from tests.subscriptions.conftest import bill

    await bill(services, date=shipped.isoformat(), dedupe_key=f"bill:{name}")
    async with transaction(services.sessions) as s:
        order = await s.scalar(select(Order).where(Order.subscription_id == sub))
    assert order is not None
    assert order.payment_status == "recurring_waiting"
    await services.payments.run(
        order.id,
        ActionRequest(
            "capture", "test", shipment=ShipmentInput(shipped_on=shipped, tracking_number="1")
        ),
    )
    async with transaction(services.sessions) as s:
        order = await s.get(Order, order.id)
    assert order is not None
    assert order.payment_status == "recurring_paid"
    return order, card_id


async def test_the_8th_sends_last_months_shipments_except_ng_cards_and_later_ones(
    services: Services, gmo_sftp: SftpServer
) -> None:
    shop = await make_shop(services, gmo_sftp)
    method = await recurring_method(services, shop)
    ok, _ = await shipped_order(services, shop, method, "山田 花子", date(2026, 12, 20))
    ng, ng_card = await shipped_order(services, shop, method, "佐藤 健", date(2026, 12, 21))
    late, _ = await shipped_order(services, shop, method, "鈴木 一郎", date(2027, 1, 3))
    async with transaction(services.sessions) as s:
        from kessai.customers.models import CustomerCard

        stored = await s.get(CustomerCard, ng_card)
        assert stored is not None
        stored.updater_result = "1"  # 有効性NG, not re-registered by the 7th
    await run_calendar(services, at(2027, 1, 8, 5, 30))
    lines = [line.split(",") for line in shop.file(SEND_FILE).read_text("cp932").splitlines()]
    assert [(row[3], row[4], row[8]) for row in lines] == [("0000990", "1", ok.number)]
    [job] = await jobs_of(services, "recurring_send")
    assert job.status == "succeeded"
    # The late shipment waits for February; the NG card's order is named with the reason.
    async with transaction(services.sessions) as s:
        from kessai.jobs import repository as jobs_repo

        [item] = await jobs_repo.items(s, job.id)
    assert ng.number in item.message
    assert "有効性NG" in item.message
    assert late.number not in item.message
    # Sent once: a later tick does not send again.
    await run_calendar(services, at(2027, 1, 9, 5, 30))
    assert len(await jobs_of(services, "recurring_send")) == 1


async def test_the_18th_marks_sales_reported_or_failed_with_the_error_in_words(
    services: Services, gmo_sftp: SftpServer
) -> None:
    shop = await make_shop(services, gmo_sftp)
    method = await recurring_method(services, shop)
    one, c1 = await shipped_order(services, shop, method, "山田 花子", date(2026, 12, 20))
    two, c2 = await shipped_order(services, shop, method, "佐藤 健", date(2026, 12, 21))
    await run_calendar(services, at(2027, 1, 8, 5, 30))
    m1, m2 = (await card(services, c1)).member_id, (await card(services, c2)).member_id
    # A line for a 端末処理通番 never sent: the whole file is refused, nothing applied.
    shop.file(RESULT_FILE).write_bytes(f"1,{m1},0,{one.amount},0,\r\n9,{m2},0,1,0,\r\n".encode())
    await run_calendar(services, at(2027, 1, 18, 6, 30))
    [refused] = await jobs_of(services, "recurring_result")
    assert refused.status == "failed"
    async with transaction(services.sessions) as s:
        unchanged = await s.get(Order, one.id)
    assert unchanged is not None
    assert unchanged.payment_status == "recurring_paid"
    shop.file(RESULT_FILE).write_bytes(
        f"1,{m1},0,{one.amount},0,\r\n2,{m2},0,{two.amount},1,E01730006\r\n".encode()
    )
    await run_calendar(services, at(2027, 1, 18, 7, 30))
    assert (await jobs_of(services, "recurring_result"))[-1].status == "succeeded"
    async with transaction(services.sessions) as s:
        first, second = await s.get(Order, one.id), await s.get(Order, two.id)
        attempt = await s.scalar(
            select(PaymentAttempt).where(
                PaymentAttempt.order_id == two.id, PaymentAttempt.operation == "recurring_report"
            )
        )
    assert first is not None
    assert second is not None
    assert (first.payment_status, second.payment_status) == ("recurring_reported", "capture_failed")
    assert attempt is not None
    # GMO's own words for the ErrInfo (error table v1.72).
    assert attempt.provider_message == (
        "E01730006 ファイル内容エラー: 商品コードが”0000990”ではありません。"
    )
    # Applied once: the next hour's tick has nothing to fetch.
    await run_calendar(services, at(2027, 1, 18, 8, 30))
    assert len(await jobs_of(services, "recurring_result")) == 2
