"""Done when (#11): a shop walked through three months on the sandbox clock — registration, the
first 洗替 of every card, an expiring card renewed, an NG card left out of the next billing
run with the shop told, 継続課金 sent on the 8th, its result on the 18th, 有効性NG on the 27th
with 再決済・決済方法変更のご案内, and the re-registration mail — every mail received by a
real SMTP server on loopback, every file over a real OpenSSH sshd."""

import dataclasses
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from sqlalchemy import select

from kessai.core.clock import TOKYO
from kessai.core.db import transaction
from kessai.orders.models import Order
from kessai.services import Services
from kessai.shop.schemas import ShopSettingsPatch
from kessai.shop.service import update_shop_settings
from kessai.webhooks.models import Event
from tests.cardupdater.conftest import (
    RESULT_FILE,
    SHOP_EMAIL,
    add_card,
    card,
    jobs_of,
    make_shop,
    request_lines,
    run_calendar,
    write_result,
)
from tests.customers.test_card_change import VaultFake
from tests.factories import make_method
from tests.sftp_server import SftpServer
from tests.smtp_server import Inbox, smtp_server
from tests.subscriptions.conftest import Holder, make_subscription
from tests.web.conftest import client_for, new_key


@pytest.fixture
def inbox(services: Services) -> Iterator[Inbox]:
    with smtp_server() as (received, url):
        services.settings = dataclasses.replace(services.settings, smtp_url=url)
        yield received


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 30) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TOKYO)


async def order_of(services: Services, subscription_id: int) -> list[Order]:
    async with transaction(services.sessions) as s:
        rows = await s.scalars(
            select(Order).where(Order.subscription_id == subscription_id).order_by(Order.id)
        )
        return list(rows.all())


async def test_three_months_of_card_updater_and_recurring_billing(
    services: Services, gmo_sftp: SftpServer, inbox: Inbox
) -> None:
    services.registry.register("fake", lambda account_id, settings: VaultFake(account_id))
    services.clock.set_now(at(2026, 11, 15, 10))
    # --- November: the shop registers its GMO PG account, customers and 定期受注.
    shop = await make_shop(services, gmo_sftp)
    async with transaction(services.sessions) as s:
        await update_shop_settings(
            s, ShopSettingsPatch(card_change_allowed=True), actor="test", now=services.clock.now()
        )
    recurring = await make_method(
        services, provider="gmo_pg", method_type="credit_card_recurring", recurring=True
    )
    async with transaction(services.sessions) as s:
        from kessai.accounts.models import PaymentMethod

        row = await s.get(PaymentMethod, recurring.id)
        assert row is not None
        row.account_id = shop.account_id  # the same GMO PG account, 継続課金 contract
    renewed = await add_card(
        services, shop, name="山田 花子", expire="2612", email="hanako@example.jp"
    )
    invalid = await add_card(services, shop, name="佐藤 健", expire="2801", email="ken@example.jp")
    teiki = await add_card(
        services, shop, name="鈴木 一郎", expire="2801", email="ichiro@example.jp"
    )
    subs = {}
    for card_id in (renewed, invalid):
        c = await card(services, card_id)
        subs[card_id] = await make_subscription(
            services, shop.method, Holder(c.customer_id, card_id), next_ship_on=date(2026, 12, 28)
        )
    c = await card(services, teiki)
    async with transaction(services.sessions) as s:
        from kessai.customers.models import CustomerCard

        stored = await s.get(CustomerCard, teiki)
        assert stored is not None
        stored.payment_method_id = recurring.id
    subs[teiki] = await make_subscription(
        services, recurring, Holder(c.customer_id, teiki), next_ship_on=date(2026, 12, 28)
    )

    # --- December 1st: the first 洗替 takes every registered card.
    await run_calendar(services, at(2026, 12, 1, 1, 5))
    assert len(request_lines(shop)) == 3
    m = {k: (await card(services, k)).member_id for k in (renewed, invalid, teiki)}
    write_result(
        shop,
        [
            f"{m[renewed]},0,0,411111******1111,3112",  # expiring: renewed
            f"{m[invalid]},0,1,,",  # 有効性NG
            f"{m[teiki]},0,0,,",
        ],
    )
    # --- December 27th: the result is applied; the shop is told which cards are NG.
    await run_calendar(services, at(2026, 12, 27, 0, 5))
    assert (await card(services, renewed)).expire == "3112"
    assert (await card(services, invalid)).updater_result == "1"
    [told] = [r for r in inbox.to(SHOP_EMAIL) if "自動洗替結果のお知らせ" in r.subject]
    assert "佐藤 健: 有効性NG" in told.body

    # --- December 28th: the billing run charges the renewed card, skips the NG one, and the
    # 継続課金 定期 order starts 決済待ち.
    await run_calendar(services, at(2026, 12, 28, 0, 20))
    [charged] = await order_of(services, subs[renewed])
    assert charged.payment_status == "authorized"
    assert await order_of(services, subs[invalid]) == []
    billing = (await jobs_of(services, "billing"))[-1]  # the 28th's (one a day)
    assert billing.skipped == 1
    [teiki_order] = await order_of(services, subs[teiki])
    assert teiki_order.payment_status == "recurring_waiting"  # 決済待ち
    async with client_for(services, await new_key(services)) as api:
        shipped = await api.post(
            f"/api/v1/orders/{teiki_order.id}/payment/capture",
            json={"shipped_on": "2026-12-28", "tracking_number": "1234-5678-9012"},
        )
        assert shipped.status_code == 200, shipped.text
        assert shipped.json()["order"]["payment_status_label"] == "決済完了"

    # --- January 8th: the 継続課金 file goes up with the order shipped in December.
    write_result(shop, [])  # (January's 洗替 has no expiring card: an empty result later)
    await run_calendar(services, at(2027, 1, 8, 5, 30))
    sent = shop.file("upload/tshop00012345_202701_recurring.csv").read_text("cp932").splitlines()
    assert sent == [
        f"tshop00012345,{m[teiki]},0,0000990,1,{teiki_order.amount},{teiki_order.tax},1,"
        f"{teiki_order.number}"
    ]
    # --- January 18th: 売上報告済.
    shop.file("download/tshop00012345_202701_recurring_result.csv").write_bytes(
        f"1,{m[teiki]},0,{teiki_order.amount},0,\r\n".encode("cp932")
    )
    await run_calendar(services, at(2027, 1, 18, 6, 30))
    [reported] = await order_of(services, subs[teiki])
    assert reported.payment_status == "recurring_reported"  # 売上報告済

    # --- January 27th: the 有効性チェック finds the card NG: the 定期受注 shows 有効性NG and the
    # customer and the shop get 再決済・決済方法変更のご案内.
    shop.file(RESULT_FILE.replace("202612", "202701")).write_bytes(b"")
    shop.file("download/tshop00012345_202701_recurring_check.csv").write_bytes(
        f"{m[teiki]},0,1\r\n".encode("cp932")
    )
    await run_calendar(services, at(2027, 1, 27, 6, 30))
    async with client_for(services, await new_key(services)) as api:
        ng = (await api.get("/api/v1/subscriptions", params={"updater_result": "有効性NG"})).json()
    assert sorted(row["id"] for row in ng["items"]) == sorted([subs[invalid], subs[teiki]])
    # Each card that became NG has its event (自動洗替 in December, 有効性チェック now).
    async with transaction(services.sessions) as s:
        events = (
            await s.scalars(select(Event).where(Event.type == "card.updater_ng").order_by(Event.id))
        ).all()
    assert [(e.subject, e.data["source"]) for e in events] == [
        (f"card:{invalid}", "自動洗替"),
        (f"card:{teiki}", "継続課金 有効性チェック"),
    ]
    [guide] = inbox.to("ichiro@example.jp")
    assert guide.subject == "【青汁ショップ】再決済・決済方法変更のご案内"
    assert "マイページ" in guide.body
    assert "2月7日" in guide.body
    assert any("再決済・決済方法変更のご案内" in r.subject for r in inbox.to(SHOP_EMAIL))

    # --- The customer re-registers the card on the マイページ: 決済方法変更完了通知 to both.
    async with client_for(services, await new_key(services)) as api:
        changed = await api.post(
            f"/api/v1/customers/{c.customer_id}/cards/change",
            json={"token": "tok_new_card", "card_id": teiki},
        )
        assert changed.status_code == 200, changed.text
    done = [r for r in inbox.to("ichiro@example.jp") if "決済方法変更完了通知" in r.subject]
    assert len(done) == 1
    assert any("決済方法変更完了通知" in r.subject for r in inbox.to(SHOP_EMAIL))
    # The 定期受注 now uses the new card, no longer 有効性NG.
    async with client_for(services, await new_key(services)) as api:
        sub = (await api.get(f"/api/v1/subscriptions/{subs[teiki]}")).json()
    assert sub["updater_result_label"] == "未洗替"
