"""マイページのクレジットカード変更: only when the shop allows it; the new card is saved at the
provider before anything else changes; then the 定期受注 move to it, 決済方法変更完了通知 goes
to the customer and the shop, and the next 再オーソリ charges the new card."""

import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import date

import httpx
import pytest
from sqlalchemy import func, select

from kessai.accounts.models import PaymentMethod
from kessai.core.db import transaction
from kessai.customers.models import CustomerCard
from kessai.notifications.models import OutboxMail
from kessai.providers.fake.connector import FakeConnector
from kessai.providers.vault import ProviderError, ProviderUnreachable, StoredCard
from kessai.services import Services
from kessai.subscriptions.models import Subscription
from tests.reauthorization.conftest import Provider, failed_order, order_of, run_batch
from tests.smtp_server import Inbox, smtp_server
from tests.subscriptions.conftest import Holder, customer_with_card, make_subscription
from tests.web.conftest import client_for, new_key


class VaultFake(FakeConnector):
    """The fake provider with 会員・カード, and switches to make it refuse or go away."""

    def __init__(self, account_id: int, settings: object = None) -> None:
        super().__init__(account_id, {})
        self.saved: list[StoredCard] = []
        self.deleted: list[tuple[str, str]] = []
        self.members: set[str] = set()
        self.refuse: ProviderError | None = None
        self.unreachable = False
        self.refuse_delete = False

    async def save_member(self, member_id: str, name: str | None = None) -> None:
        self.members.add(member_id)

    async def find_member(self, member_id: str) -> bool:
        return member_id in self.members

    async def delete_member(self, member_id: str) -> None:
        self.members.discard(member_id)

    async def save_card(self, member_id: str, token: str) -> StoredCard:
        if self.unreachable:
            raise ProviderUnreachable("connection refused")
        if self.refuse is not None:
            raise self.refuse
        card = StoredCard(member_id, str(100 + len(self.saved)), "************4242", "2910")
        self.saved.append(card)
        return card

    async def search_cards(self, member_id: str) -> list[StoredCard]:
        return [c for c in self.saved if c.member_id == member_id]

    async def delete_card(self, member_id: str, card_seq: str) -> None:
        if self.refuse_delete:
            raise ProviderUnreachable("connection reset")
        self.deleted.append((member_id, card_seq))

    async def traded_card(self, reference: str, member_id: str) -> StoredCard:
        raise ProviderError("E01", "not used")


@pytest.fixture
def vault_services(services: Services) -> Services:
    services.registry.register("fake", lambda account_id, settings: VaultFake(account_id))
    return services


@pytest.fixture
async def api(vault_services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(vault_services, await new_key(vault_services)) as client:
        yield client


@pytest.fixture
def smtp(vault_services: Services) -> Iterator[Inbox]:
    with smtp_server() as (inbox, url):
        vault_services.settings = dataclasses.replace(vault_services.settings, smtp_url=url)
        yield inbox


def vault(services: Services, method: PaymentMethod) -> VaultFake:
    assert method.account_id is not None
    conn = services.registry.fake(method.account_id)  # type: ignore[attr-defined]
    assert isinstance(conn, VaultFake)
    return conn


async def method_and_holder(services: Services) -> tuple[PaymentMethod, Holder, int]:
    from tests.reauthorization.conftest import card_method

    method = await card_method(services)
    holder = await customer_with_card(services, method)
    sid = await make_subscription(services, method, holder, next_ship_on=date(2026, 12, 1))
    return method, holder, sid


async def allow(api: httpx.AsyncClient, **more: object) -> None:
    r = await api.patch("/api/v1/shop/settings", json={"card_change_allowed": True, **more})
    assert r.status_code == 200, r.text


async def cards_of(api: httpx.AsyncClient, customer_id: int) -> list[int]:
    r = await api.get(f"/api/v1/customers/{customer_id}/cards")
    assert r.status_code == 200
    return [c["id"] for c in r.json()]


async def card_of_subscription(services: Services, sid: int) -> int | None:
    async with transaction(services.sessions) as s:
        sub = await s.get(Subscription, sid, populate_existing=True)
        assert sub is not None
        return sub.card_id


async def outbox_count(services: Services) -> int:
    async with transaction(services.sessions) as s:
        return int(await s.scalar(select(func.count()).select_from(OutboxMail)) or 0)


def change_url(customer_id: int) -> str:
    return f"/api/v1/customers/{customer_id}/cards/change"


async def test_refused_while_the_shop_says_do_not_allow(vault_services, api):
    method, holder, sid = await method_and_holder(vault_services)

    r = await api.post(change_url(holder.customer_id), json={"token": "tok_new"})

    assert r.status_code == 403
    assert r.json()["code"] == "card_change_not_allowed"
    assert "許可しない" in r.json()["message"]
    assert vault(vault_services, method).saved == []
    assert await cards_of(api, holder.customer_id) == [holder.card_id]
    assert await card_of_subscription(vault_services, sid) == holder.card_id


async def test_change_switches_subscriptions_mails_and_drops_the_old_card(
    vault_services, api, smtp
):
    await allow(
        api,
        shop_name="青汁ショップ",
        mail_from="shop@aojiru.example.jp",
        notification_email="orders@aojiru.example.jp",
    )
    method, holder, sid = await method_and_holder(vault_services)

    r = await api.post(change_url(holder.customer_id), json={"token": "tok_new"})

    assert r.status_code == 200, r.text
    body = r.json()
    new_id = body["card"]["id"]
    assert body["card"]["masked_number"] == "************4242"
    assert (body["replaced_card_id"], body["subscriptions_switched"]) == (holder.card_id, 1)
    assert body["old_card_deleted"] is True
    assert await cards_of(api, holder.customer_id) == [new_id]
    assert await card_of_subscription(vault_services, sid) == new_id
    fake = vault(vault_services, method)
    assert [c.card_seq for c in fake.saved] == ["100"]
    assert len(fake.deleted) == 1
    [customer] = smtp.to("taro@example.jp")
    [shop_copy] = smtp.to("orders@aojiru.example.jp")
    assert customer.subject == "【青汁ショップ】決済方法変更完了通知"
    assert "山田 太郎 様" in customer.body
    assert "************4242(有効期限 10/29)" in customer.body
    number = (await api.get(f"/api/v1/subscriptions/{sid}")).json()["number"]
    assert number in customer.body
    assert shop_copy.subject == f"【青汁ショップ】決済方法変更完了通知(顧客ID {holder.customer_id})"
    assert f"変更前のカード: 登録カードID {holder.card_id}" in shop_copy.body


async def test_a_refused_card_leaves_everything_as_it_was(vault_services, api):
    await allow(api, notification_email="orders@aojiru.example.jp")
    method, holder, sid = await method_and_holder(vault_services)
    vault(vault_services, method).refuse = ProviderError("E01170001", "カード番号に誤りがあります")

    r = await api.post(change_url(holder.customer_id), json={"token": "tok_new"})

    assert r.status_code == 409
    assert r.json()["code"] == "provider_declined"
    assert "E01170001" in r.json()["message"]
    assert await cards_of(api, holder.customer_id) == [holder.card_id]
    assert await card_of_subscription(vault_services, sid) == holder.card_id
    assert vault(vault_services, method).deleted == []
    assert await outbox_count(vault_services) == 0


async def test_an_unreachable_provider_leaves_everything_as_it_was(vault_services, api):
    await allow(api)
    method, holder, sid = await method_and_holder(vault_services)
    vault(vault_services, method).unreachable = True

    r = await api.post(change_url(holder.customer_id), json={"token": "tok_new"})

    assert r.status_code == 502
    assert await cards_of(api, holder.customer_id) == [holder.card_id]
    assert await card_of_subscription(vault_services, sid) == holder.card_id
    assert await outbox_count(vault_services) == 0


async def test_old_card_kept_on_request_or_when_its_removal_fails(vault_services, api):
    await allow(api)
    method, holder, _ = await method_and_holder(vault_services)

    kept = await api.post(
        change_url(holder.customer_id), json={"token": "tok_a", "keep_old_card": True}
    )
    assert kept.status_code == 200
    assert kept.json()["old_card_deleted"] is False
    assert sorted(await cards_of(api, holder.customer_id)) == sorted(
        [holder.card_id, kept.json()["card"]["id"]]
    )

    vault(vault_services, method).refuse_delete = True
    failed = await api.post(
        change_url(holder.customer_id),
        json={"token": "tok_b", "card_id": kept.json()["card"]["id"]},
    )
    assert failed.status_code == 200
    assert failed.json()["old_card_deleted"] is False
    assert "削除できませんでした" in failed.json()["old_card_message"]
    assert failed.json()["subscriptions_switched"] == 1  # from the card of the first change


async def test_a_method_of_another_account_is_refused_before_saving(vault_services, api):
    await allow(api)
    method, holder, _ = await method_and_holder(vault_services)
    from tests.reauthorization.conftest import card_method

    other = await card_method(vault_services)

    r = await api.post(
        change_url(holder.customer_id), json={"token": "tok_new", "payment_method": other.code}
    )

    assert r.status_code == 422
    assert r.json()["code"] == "card_account_mismatch"
    assert vault(vault_services, method).saved == []


async def test_unknown_customer_or_card(vault_services, api):
    await allow(api)
    _, holder, _ = await method_and_holder(vault_services)
    missing = await api.post(change_url(999_999), json={"token": "tok"})
    assert missing.status_code == 404
    wrong = await api.post(change_url(holder.customer_id), json={"token": "tok", "card_id": 999})
    assert wrong.status_code == 404
    assert wrong.json()["code"] == "card_not_found"


async def test_the_next_reauthorization_charges_the_new_card(vault_services, api, smtp):
    from tests.reauthorization.conftest import at

    vault_services.clock.set_now(at(date(2026, 11, 24)))
    await allow(api, notification_email="orders@aojiru.example.jp")
    method, holder, sid = await method_and_holder(vault_services)
    provider = Provider(vault_services, method)
    order_id = await failed_order(
        vault_services,
        method,
        customer_id=holder.customer_id,
        subscription_id=sid,
        source={"card_id": str(holder.card_id)},
    )
    provider.next("hard_decline")
    await run_batch(vault_services)
    assert (await order_of(vault_services, order_id)).reauthorization_label == "card_declined"

    r = await api.post(change_url(holder.customer_id), json={"token": "tok_new"})
    assert r.json()["reauthorization_orders"] == [order_id]
    new_id = r.json()["card"]["id"]
    [shop_copy] = [m for m in smtp.to("orders@aojiru.example.jp") if "完了通知" in m.subject]
    assert "再オーソリ待ちの受注" in shop_copy.body
    number = (await order_of(vault_services, order_id)).number
    [changed] = [m for m in smtp.to("taro@example.jp") if "完了通知" in m.subject]
    assert f"お支払いが完了していないご注文({number})" in changed.body
    vault_services.clock.set_now(at(date(2026, 11, 25)))
    _, items = await run_batch(vault_services)

    assert items[order_id].message == "再与信完了"
    assert provider.sources[-1]["card_id"] == str(new_id)
    async with transaction(vault_services.sessions) as s:
        sub = await s.get(Subscription, sid, populate_existing=True)
        card = await s.get(CustomerCard, holder.card_id, populate_existing=True)
    assert sub is not None
    assert card is not None
    assert sub.status == "active"
    assert card.deleted_at is not None
