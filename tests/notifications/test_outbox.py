"""The mail outbox: written with the event, sent after commit over real SMTP, exactly once;
a failed send stays in the outbox with its error and goes out on a later try."""

import asyncio
import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import select

from kessai.core.db import transaction
from kessai.notifications import repository as repo
from kessai.notifications.delivery import deliver_pending, retry_delay
from kessai.notifications.models import MailStatus, OutboxMail
from kessai.notifications.service import queue_for_all
from kessai.notifications.smtp import parse_smtp_url
from kessai.notifications.templates import MailKind, Recipient, render
from kessai.services import Services
from kessai.shop.schemas import ShopSettings
from tests.smtp_server import free_port, smtp_server

SHOP = ShopSettings(
    shop_name="青汁ショップ",
    mail_from="shop@aojiru.example.jp",
    notification_email="orders@aojiru.example.jp",
    card_change_allowed=True,
)


def use_smtp(services: Services, url: str | None) -> None:
    services.settings = dataclasses.replace(services.settings, smtp_url=url)


def request_context(**overrides: object) -> dict[str, object]:
    context: dict[str, object] = {
        "customer_name": "山田 太郎",
        "customer_id": 7,
        "customer_email": "taro@example.jp",
        "order_id": 12,
        "order_number": "20261122000012",
        "ordered_on": "2026年11月22日",
        "amount": 5_500,
        "payment_method_name": "クレジットカード",
        "payment_status_label": "仮売上失敗",
        "subscription_id": 3,
        "tries": 1,
        "provider_error": "G12 カードが利用できません",
        "deadline": "2026年12月22日",
        "card_change_allowed": True,
        "next_step": "次回の発送日に再度オーソリを実行します。",
    }
    context.update(overrides)
    return context


async def queue_request(
    services: Services, *, dedupe_key: str | None = "test:order:12", email: str | None = None
) -> list[int]:
    async with transaction(services.sessions) as s:
        return await queue_for_all(
            s,
            kind=MailKind.PAYMENT_METHOD_CHANGE_REQUEST,
            shop=SHOP,
            customer_email=email or "taro@example.jp",
            context=request_context(),
            now=services.clock.now(),
            dedupe_key=dedupe_key,
            order_id=12,
            customer_id=7,
        )


async def outbox(services: Services) -> list[OutboxMail]:
    async with transaction(services.sessions) as s:
        rows = await s.scalars(select(OutboxMail).order_by(OutboxMail.id))
        return list(rows.all())


# ------------------------------------------------------------------ templates


def test_change_request_names_the_order_and_what_to_do():
    customer = render(
        MailKind.PAYMENT_METHOD_CHANGE_REQUEST,
        Recipient.CUSTOMER,
        request_context(shop_name="青汁ショップ", shop_email="orders@aojiru.example.jp"),
    )
    assert customer.subject == "【青汁ショップ】決済方法変更のご案内"
    assert "山田 太郎 様" in customer.body
    assert "20261122000012" in customer.body
    assert "5,500円" in customer.body
    assert "マイページから新しいクレジットカードのご登録" in customer.body
    assert "2026年12月22日までに" in customer.body
    assert "定期購入はキャンセルとなります" in customer.body


def test_change_request_without_card_change_sends_the_customer_to_the_shop():
    mail = render(
        MailKind.PAYMENT_METHOD_CHANGE_REQUEST,
        Recipient.CUSTOMER,
        request_context(
            shop_name="青汁ショップ",
            shop_email=None,
            card_change_allowed=False,
            subscription_id=None,
        ),
    )
    assert "マイページ" not in mail.body
    assert "ショップまでご連絡のうえ" in mail.body
    assert "定期購入" not in mail.body  # a one-off order has nothing to cancel


def test_a_missing_value_is_an_error_not_a_blank():
    context = request_context(shop_name="青汁ショップ", shop_email=None)
    del context["order_number"]
    with pytest.raises(Exception, match="order_number"):
        render(MailKind.PAYMENT_METHOD_CHANGE_REQUEST, Recipient.CUSTOMER, context)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("127.0.0.1:2525", ("127.0.0.1", 2525)),
        ("smtp://mail.example.jp:587", ("mail.example.jp", 587)),
        ("mail.example.jp", ("mail.example.jp", 25)),
        ("[::1]:2525", ("::1", 2525)),
    ],
)
def test_smtp_url(raw, expected):
    assert parse_smtp_url(raw) == expected


@pytest.mark.parametrize("raw", ["http://mail.example.jp", "mail.example.jp:port", "host:0"])
def test_bad_smtp_url_is_refused_with_the_setting_named(raw):
    with pytest.raises(Exception, match="KESSAI_SMTP_URL"):
        parse_smtp_url(raw)


# ------------------------------------------------------------------ outbox and SMTP


async def test_queued_mails_go_to_customer_and_shop_once(services: Services, smtp):
    inbox, url = smtp
    use_smtp(services, url)
    ids = await queue_request(services)
    assert len(ids) == 2
    again = await queue_request(services)  # the same cause seen again: nothing new
    assert again == []

    first = await deliver_pending(services)
    second = await deliver_pending(services)

    assert (first.sent, first.failed, second.sent) == (2, 0, 0)
    [customer] = inbox.to("taro@example.jp")
    [shop] = inbox.to("orders@aojiru.example.jp")
    assert customer.subject == "【青汁ショップ】決済方法変更のご案内"
    assert "山田 太郎 様" in customer.body
    assert "青汁ショップ" in str(customer.message["From"])
    assert "shop@aojiru.example.jp" in str(customer.message["From"])
    assert (
        shop.subject
        == "【青汁ショップ】決済方法変更のご案内を送信しました(受注番号 20261122000012)"
    )
    assert "G12 カードが利用できません" in shop.body
    assert customer.message["Message-ID"] != shop.message["Message-ID"]
    assert [m.status for m in await outbox(services)] == ["sent", "sent"]


async def test_no_shop_address_means_no_shop_copy(services: Services, smtp):
    inbox, url = smtp
    use_smtp(services, url)
    async with transaction(services.sessions) as s:
        ids = await queue_for_all(
            s,
            kind=MailKind.PAYMENT_METHOD_CHANGE_REQUEST,
            shop=ShopSettings(),
            customer_email="taro@example.jp",
            context=request_context(),
            now=services.clock.now(),
        )
    assert len(ids) == 1
    await deliver_pending(services)
    [mail] = inbox.received
    assert mail.subject == "【ショップ】決済方法変更のご案内"
    assert "no-reply@localhost" in str(mail.message["From"])


async def test_mail_of_a_rolled_back_event_never_exists(services: Services, smtp):
    inbox, url = smtp
    use_smtp(services, url)

    async def event_that_fails() -> None:
        async with transaction(services.sessions) as s:
            await queue_for_all(
                s,
                kind=MailKind.PAYMENT_METHOD_CHANGE_REQUEST,
                shop=SHOP,
                customer_email="taro@example.jp",
                context=request_context(),
                now=services.clock.now(),
            )
            raise RuntimeError("the event failed")

    with pytest.raises(RuntimeError):
        await event_that_fails()
    await deliver_pending(services)
    assert await outbox(services) == []
    assert inbox.received == []


async def test_without_smtp_url_mails_wait_in_the_outbox(services: Services):
    use_smtp(services, None)
    await queue_request(services)
    done = await deliver_pending(services)
    assert (done.sent, done.failed) == (0, 0)
    assert [m.status for m in await outbox(services)] == ["pending", "pending"]


async def test_smtp_down_keeps_the_mail_with_its_error_and_retries_it(services: Services):
    port = free_port()  # nothing listens here yet: the server is down
    use_smtp(services, f"127.0.0.1:{port}")
    await queue_request(services)

    down = await deliver_pending(services)

    assert (down.sent, down.failed) == (0, 2)
    mails = await outbox(services)
    assert [m.status for m in mails] == ["pending", "pending"]
    assert all(m.attempts == 1 for m in mails)
    assert all("ConnectionRefusedError" in (m.last_error or "") for m in mails)

    with smtp_server(port) as (inbox, _):
        early = await deliver_pending(services)  # not due again before the retry delay
        assert early.sent == 0
        services.clock.advance(retry_delay(1) + timedelta(seconds=1))
        back = await deliver_pending(services)
        later = await deliver_pending(services)

    assert (back.sent, back.failed, later.sent) == (2, 0, 0)
    assert len(inbox.to("taro@example.jp")) == 1
    assert len(inbox.to("orders@aojiru.example.jp")) == 1
    mails = await outbox(services)
    assert [(m.status, m.attempts, m.last_error) for m in mails] == [("sent", 2, None)] * 2


async def test_two_senders_at_once_send_each_mail_once(services: Services, smtp):
    inbox, url = smtp
    use_smtp(services, url)
    for n in range(5):
        await queue_request(services, dedupe_key=f"test:{n}", email=f"c{n}@example.jp")

    results = await asyncio.gather(*(deliver_pending(services) for _ in range(3)))

    assert sum(r.sent for r in results) == 10
    assert len(inbox.received) == 10
    assert (
        sorted(a for r in inbox.received for a in r.rcpt_tos).count("orders@aojiru.example.jp") == 5
    )


async def test_a_sender_that_died_mid_send_is_taken_over_after_the_lease(services: Services, smtp):
    inbox, url = smtp
    use_smtp(services, url)
    [mail_id, _] = await queue_request(services)
    async with transaction(services.sessions) as s:  # claimed by a process that then died
        now = services.clock.now()
        claimed = await repo.claim(s, mail_id, now, now)
        assert claimed is not None
    first = await deliver_pending(services)
    assert first.sent == 1  # only the other mail: the claimed one is someone else's
    services.clock.advance(timedelta(minutes=11))
    second = await deliver_pending(services)
    assert second.sent == 1
    assert len(inbox.received) == 2
    statuses = {m.id: m.status for m in await outbox(services)}
    assert statuses[mail_id] == MailStatus.SENT.value


async def test_outbox_through_the_api(services: Services, smtp):
    from tests.web.conftest import client_for, new_key

    inbox, url = smtp
    await queue_request(services)
    async with client_for(services, await new_key(services)) as api:
        waiting = await api.get("/api/v1/mails", params={"status": "pending"})
        use_smtp(services, url)
        delivered = await api.post("/api/v1/mails/deliver")
        sent = await api.get("/api/v1/mails", params={"order_id": 12})
        bad = await api.get("/api/v1/mails", params={"status": "lost"})

    assert [m["status_label"] for m in waiting.json()] == ["送信待ち", "送信待ち"]
    assert delivered.json() == {"sent": 2, "failed": 0}
    assert {m["kind_label"] for m in sent.json()} == {"決済方法変更のご案内"}
    assert {m["status"] for m in sent.json()} == {"sent"}
    assert bad.status_code == 422
    assert len(inbox.received) == 2
