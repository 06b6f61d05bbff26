"""受注詳細 over HTTP: the facts and 出荷 fields, the tabs 決済履歴 (provider codes verbatim)
and 変更履歴 (who, when, from where, before → after), the actions offered from the same rules
as the API's allowed_actions, and the permission and CSRF rules on every action."""

import re
from datetime import timedelta

import httpx

from kessai.core.db import transaction
from kessai.orders.models import Order
from kessai.payments.models import PaymentAttempt
from kessai.providers.fake.connector import DECLINE_CODE, DECLINE_MESSAGE
from kessai.services import Services
from kessai.users.service import Role
from tests.admin.conftest import add_user, csrf_of, login
from tests.factories import act, attempts, changes, make_method, make_order, view

ADMIN = "admin@example.jp"


def action_buttons(html: str) -> dict[str, bool]:
    """Each action button shown: True when offered (a link), False when shown refused."""
    section = html.split('id="actions"', 1)[1].split("</section>", 1)[0]
    found = dict.fromkeys(re.findall(r'/actions/([a-z-]+)"', section), True)
    for name in re.findall(r'aria-describedby="why-([a-z-]+)"', section):
        found[name] = False
    return found


async def test_detail_actions_follow_the_same_rules_as_the_api(
    client: httpx.AsyncClient, services: Services
) -> None:
    method = await make_method(services)
    order_id = await make_order(services, method, amount=5_000)
    await services.payments.run(order_id, act("authorize"))
    await add_user(services, ADMIN)
    await login(client, ADMIN)

    page = await client.get(f"/admin/orders/{order_id}")
    assert page.status_code == 200
    buttons = action_buttons(page.text)
    api = await view(services, order_id)
    offered = {a for a, ok in buttons.items() if ok}
    assert offered == set(api.allowed_actions) - {"authorize"}
    assert offered == {"capture", "cancel", "change-amount", "reauthorize", "force-capture"} | {
        "force-cancel"
    }
    assert "仮売上完了" in page.text

    # After 売上処理, 売上処理 is refused in the table's words, on the page and in the API.
    confirm = await client.get(f"/admin/orders/{order_id}/actions/capture")
    assert "決済サービスへ送信する内容" in confirm.text
    assert "売上処理(取引 " in confirm.text
    assert "5,000円" in confirm.text
    token = await csrf_of(client, f"/admin/orders/{order_id}")
    done = await client.post(
        f"/admin/orders/{order_id}/actions/capture",
        data={
            "csrf_token": token,
            "shipped_on": "2026/03/02",
            "tracking_number": "4412-3456-7890",
            "carrier": "ヤマト運輸",
        },
    )
    assert done.status_code == 303
    page = await client.get(f"/admin/orders/{order_id}")
    assert "処理が完了しました" in page.text
    assert "売上完了" in page.text
    shipment = page.text.split('id="shipment"', 1)[1].split("</dl>", 1)[0]
    assert "2026/03/02" in shipment
    assert "4412-3456-7890" in shipment
    assert "ヤマト運輸" in shipment
    buttons = action_buttons(page.text)
    assert buttons["capture"] is False
    assert "決済状況が「売上完了」の受注には売上処理を実行できません" in page.text
    api = await view(services, order_id)
    assert {a for a, ok in buttons.items() if ok} == set(api.allowed_actions)

    # The capture reached the provider once; 決済履歴 lists it, 変更履歴 says who and from where.
    assert services.registry.fake(method.account_id).captures() == 1
    history = page.text.split('id="payment-history"', 1)[1]
    assert "売上処理" in history
    assert "成功" in history
    assert ADMIN in history
    changes_page = await client.get(f"/admin/orders/{order_id}", params={"tab": "changes"})
    table = changes_page.text.split('id="change-history"', 1)[1]
    assert "仮売上完了 → 売上完了" in table
    assert "管理画面" in table
    assert ADMIN in table
    assert "配送伝票番号" in table
    assert "(なし) → 4412-3456-7890" in table


async def test_provider_codes_and_messages_are_shown_verbatim(
    client: httpx.AsyncClient, services: Services
) -> None:
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize", scenario="decline"))
    await add_user(services, ADMIN)
    await login(client, ADMIN)
    page = await client.get(f"/admin/orders/{order_id}")
    assert "仮売上失敗" in page.text
    row = page.text.split('id="payment-history"', 1)[1].split("</tr>", 2)[1]
    assert DECLINE_CODE in row
    assert DECLINE_MESSAGE in row
    assert "エラー" in row
    # 仮売上失敗: no 売上処理 (nothing to capture), 再オーソリ offered.
    buttons = action_buttons(page.text)
    assert buttons["capture"] is False
    assert buttons["reauthorize"] is True


async def test_a_cancel_window_that_closed_is_refused_in_the_rules_words(
    client: httpx.AsyncClient, services: Services
) -> None:
    # PayPay (GMO PG): 決済日時から30日を超えるとエラー (seed 003, オーソリ確定前).
    method = await make_method(services, method_type="paypay")
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    services.clock.advance(timedelta(days=31))
    await add_user(services, ADMIN)
    await login(client, ADMIN)
    page = await client.get(f"/admin/orders/{order_id}")
    buttons = action_buttons(page.text)
    assert buttons["cancel"] is False
    assert "30日" in page.text.split('id="why-cancel"', 1)[1].split("</span>", 1)[0]
    assert "cancel" not in (await view(services, order_id)).allowed_actions
    # A forged POST is refused with the same words and nothing is sent.
    token = await csrf_of(client, f"/admin/orders/{order_id}")
    refused = await client.post(
        f"/admin/orders/{order_id}/actions/cancel", data={"csrf_token": token}
    )
    assert refused.status_code == 409
    assert "30日" in refused.text
    assert [a.operation for a in await attempts(services, order_id)] == ["authorize"]


async def test_change_amount_confirms_and_sends_the_new_amount(
    client: httpx.AsyncClient, services: Services
) -> None:
    method = await make_method(services)
    order_id = await make_order(services, method, amount=5_000)
    await services.payments.run(order_id, act("authorize"))
    await add_user(services, ADMIN)
    await login(client, ADMIN)
    token = await csrf_of(client, f"/admin/orders/{order_id}")
    bad = await client.post(
        f"/admin/orders/{order_id}/actions/change-amount",
        data={"csrf_token": token, "amount": "abc"},
    )
    assert bad.status_code == 422
    assert "整数" in bad.text
    ok = await client.post(
        f"/admin/orders/{order_id}/actions/change-amount",
        data={"csrf_token": token, "amount": "4,200", "tax": "381"},
    )
    assert ok.status_code == 303
    got = await view(services, order_id)
    assert (got.amount, got.tax) == (4_200, 381)
    rows = await attempts(services, order_id)
    assert (rows[-1].operation, rows[-1].amount) == ("change_amount", 4_200)
    assert ("5000", "4200") in await changes(services, order_id, "amount")


async def test_without_a_permission_there_is_no_button_and_a_forged_post_is_refused(
    client: httpx.AsyncClient, services: Services
) -> None:
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    await add_user(services, "ops@example.jp", role=Role.OPERATOR)
    await login(client, "ops@example.jp")

    page = await client.get(f"/admin/orders/{order_id}")
    buttons = action_buttons(page.text)
    assert buttons["capture"] is True
    assert "force-capture" not in buttons
    assert "force-cancel" not in buttons
    assert "強制売上処理" not in page.text

    token = await csrf_of(client, f"/admin/orders/{order_id}")
    for action in ("force-capture", "force-cancel"):
        forged = await client.post(
            f"/admin/orders/{order_id}/actions/{action}", data={"csrf_token": token}
        )
        assert forged.status_code == 403
        assert "権限がありません" in forged.text
        confirm = await client.get(f"/admin/orders/{order_id}/actions/{action}")
        assert confirm.status_code == 403
    # Without the session's CSRF token even a permitted action is refused.
    no_csrf = await client.post(f"/admin/orders/{order_id}/actions/capture", data={})
    assert no_csrf.status_code == 403
    wrong = await client.post(
        f"/admin/orders/{order_id}/actions/capture", data={"csrf_token": "x" * 43}
    )
    assert wrong.status_code == 403
    got = await view(services, order_id)
    assert got.payment_status == "authorized"
    assert [a.operation for a in await attempts(services, order_id)] == ["authorize"]

    # A viewer sees no 決済処理 at all and cannot run one.
    await client.post("/admin/logout", data={"csrf_token": token})
    await add_user(services, "viewer@example.jp", role=Role.VIEWER)
    await login(client, "viewer@example.jp")
    page = await client.get(f"/admin/orders/{order_id}")
    assert 'id="actions"' not in page.text
    token = await csrf_of(client, f"/admin/orders/{order_id}")
    forged = await client.post(
        f"/admin/orders/{order_id}/actions/capture", data={"csrf_token": token}
    )
    assert forged.status_code == 403
    async with transaction(services.sessions) as s:
        order = await s.get_one(Order, order_id)
        assert order.payment_status == "authorized"
        assert len((await s.scalars(PaymentAttempt.__table__.select())).all()) == 1


async def test_unknown_orders_and_actions_are_404_pages(
    client: httpx.AsyncClient, services: Services
) -> None:
    await add_user(services, ADMIN)
    await login(client, ADMIN)
    missing = await client.get("/admin/orders/999999")
    assert missing.status_code == 404
    assert "受注が見つかりませんでした" in missing.text
    method = await make_method(services)
    order_id = await make_order(services, method)
    unknown = await client.get(f"/admin/orders/{order_id}/actions/explode")
    assert unknown.status_code == 404
    huge = await client.get(f"/admin/orders/{2**70}")
    assert huge.status_code == 404
