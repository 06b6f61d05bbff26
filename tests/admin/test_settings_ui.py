"""設定 over HTTP: 支払い方法管理 (only the seed-003 flags the method has), ショップ設定, and
users with each role's per-operation permissions — a permission taken away removes the
button and refuses the POST; one given shows it."""

import httpx
from sqlalchemy import select

from kessai.accounts.models import PaymentMethod
from kessai.core.db import transaction
from kessai.services import Services
from kessai.shop.service import get_shop_settings
from kessai.users.models import AdminUser
from kessai.users.roles import PERMISSION_LABELS
from kessai.users.service import Permission, Role
from tests.admin.conftest import PASSWORD, add_user, hidden, login
from tests.factories import act, make_method, make_order


async def method_row(services: Services, method_id: int) -> PaymentMethod:
    async with transaction(services.sessions) as s:
        return await s.get_one(PaymentMethod, method_id)


async def test_payment_method_offers_only_its_own_flags(
    client: httpx.AsyncClient, services: Services
) -> None:
    card = await make_method(services)  # GMO PG クレジットカード
    paypay = await make_method(services, method_type="paypay")
    await add_user(services, "admin@example.jp")
    await login(client, "admin@example.jp")

    listing = await client.get("/admin/settings/methods")
    assert card.name in listing.text
    page = await client.get(f"/admin/settings/methods/{card.id}")
    assert "オーソリ時確定フラグ" in page.text
    assert "GMOPS後払い" not in page.text  # a 後払い flag, not a card's
    token = hidden(page.text, "csrf_token")
    saved = await client.post(
        f"/admin/settings/methods/{card.id}",
        data={
            "csrf_token": token,
            "name": "クレジットカード決済",
            "enabled": "1",
            "channels": ["lp", "shop"],
            "min_amount": "100",
            "max_amount": "300,000",
            "capture_on_authorize": "1",
            "gmops_cancel_link": "1",  # not on the form: ignored
        },
    )
    assert saved.status_code == 303
    m = await method_row(services, card.id)
    assert (m.name, m.channels, m.min_amount, m.max_amount) == (
        "クレジットカード決済",
        ["lp", "shop"],
        100,
        300_000,
    )
    assert m.capture_on_authorize is True
    assert m.gmops_cancel_link is False
    assert m.cancel_api_link is False  # offered, left unchecked: turned off

    bad = await client.post(
        f"/admin/settings/methods/{card.id}",
        data={"csrf_token": token, "name": "x", "min_amount": "500", "max_amount": "100"},
    )
    assert bad.status_code == 422
    assert "下限金額は上限金額以下で入力してください" in bad.text
    assert (await method_row(services, card.id)).min_amount == 100
    other = await client.get(f"/admin/settings/methods/{paypay.id}")
    assert "クレジットカードセキュリティコードチェック" not in other.text

    # 運用担当 may look but not change.
    await add_user(services, "ops@example.jp", role=Role.OPERATOR)
    await client.post("/admin/logout", data={"csrf_token": token})
    await login(client, "ops@example.jp")
    page = await client.get(f"/admin/settings/methods/{card.id}")
    assert "<fieldset disabled>" in page.text
    assert "保存する" not in page.text
    forged = await client.post(
        f"/admin/settings/methods/{card.id}",
        data={"csrf_token": hidden(page.text, "csrf_token"), "name": "乗っ取り"},
    )
    assert forged.status_code == 403
    assert (await method_row(services, card.id)).name == "クレジットカード決済"


async def test_shop_settings_are_saved_with_dates_as_operators_write_them(
    client: httpx.AsyncClient, services: Services
) -> None:
    await add_user(services, "admin@example.jp")
    await login(client, "admin@example.jp")
    page = await client.get("/admin/settings/shop")
    assert "クレジットカード変更" in page.text
    token = hidden(page.text, "csrf_token")
    form = {
        "csrf_token": token,
        "shop_name": "青汁ショップ",
        "card_change_allowed": "1",
        "mail_from": "shop@example.jp",
        "notification_email": "",
        "shipping_weekdays": ["0", "2", "4"],
        "non_shipping_dates": "2026/12/31\r\n2027/01/01",
        "reauthorization_time": "06:30",
    }
    assert (await client.post("/admin/settings/shop", data=form)).status_code == 303
    async with transaction(services.sessions) as s:
        shop = await get_shop_settings(s)
    assert shop.card_change_allowed is True
    assert shop.shipping_weekdays == [0, 2, 4]
    assert [d.isoformat() for d in shop.non_shipping_dates] == ["2026-12-31", "2027-01-01"]
    assert shop.reauthorization_time.strftime("%H:%M") == "06:30"
    shown = await client.get("/admin/settings/shop")
    assert "2026/12/31\n2027/01/01" in shown.text
    bad = await client.post("/admin/settings/shop", data={**form, "non_shipping_dates": "12月31日"})
    assert bad.status_code == 422
    assert "YYYY/MM/DD" in bad.text


async def test_role_permissions_are_set_per_operation(
    client: httpx.AsyncClient, services: Services
) -> None:
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    await add_user(services, "admin@example.jp")
    await login(client, "admin@example.jp")
    page = await client.get("/admin/settings/users")
    token = hidden(page.text, "csrf_token")
    created = await client.post(
        "/admin/settings/users",
        data={
            "csrf_token": token,
            "email": "ops@example.jp",
            "name": "運用 次郎",
            "password": PASSWORD,
            "role": "operator",
        },
    )
    assert created.status_code == 303
    # 運用担当: 強制売上処理 given, 受注ごとの決済処理 taken away.
    grant = await client.post(
        "/admin/settings/roles/operator",
        data={
            "csrf_token": token,
            "permissions": ["orders.view", "orders.force_capture", "accounts.view"],
        },
    )
    assert grant.status_code == 303
    refused = await client.post(
        "/admin/settings/roles/operator",
        data={"csrf_token": token, "permissions": ["orders.view", "users.manage"]},
    )
    assert refused.status_code == 422
    assert "管理者にのみ許可できます" in refused.text
    assert (
        await client.post(
            "/admin/settings/roles/admin", data={"csrf_token": token, "permissions": []}
        )
    ).status_code == 422
    async with transaction(services.sessions) as s:
        me = await s.scalar(select(AdminUser).where(AdminUser.email == "admin@example.jp"))
        assert me is not None
    own = await client.post(
        f"/admin/settings/users/{me.id}", data={"csrf_token": token, "role": "viewer"}
    )
    assert own.status_code == 409

    await client.post("/admin/logout", data={"csrf_token": token})
    await login(client, "ops@example.jp")
    detail = await client.get(f"/admin/orders/{order_id}")
    assert "/actions/force-capture" in detail.text
    assert "/actions/capture" not in detail.text
    token = hidden(detail.text, "csrf_token")
    capture = await client.post(
        f"/admin/orders/{order_id}/actions/capture", data={"csrf_token": token}
    )
    assert capture.status_code == 403
    assert (await client.get("/admin/settings/users")).status_code == 403
    forced = await client.post(
        f"/admin/orders/{order_id}/actions/force-capture", data={"csrf_token": token}
    )
    assert forced.status_code == 303
    listing = await client.get(f"/admin/orders/{order_id}")
    assert "売上完了" in listing.text


def test_every_permission_has_words_on_the_roles_screen() -> None:
    assert set(PERMISSION_LABELS) == set(Permission)
