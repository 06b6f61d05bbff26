"""The admin in Chromium, one walk through a shop operator's day, against kessai on loopback
with the GMO PG simulator mounted as `kessai serve` mounts it in sandbox mode:

login → ダッシュボード → a filtered order list → 受注詳細 → 売上処理 → 決済履歴 shows the
provider call → 決済状況一括変更 on 検索結果すべて → the job's CSV; a 定期受注 found by
洗替ステータス; a 試験購入 through a 3-D Secure challenge that ends 仮売上完了 in the admin; a
user without 強制売上処理 neither sees nor can forge it.

KESSAI_SCREENSHOTS=docs/screenshots writes the README's screenshots of the main screens.
"""

import asyncio
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.core.db import transaction
from kessai.orders.models import Order
from kessai.payments.models import PaymentAttempt
from kessai.providers.gmo_pg.connector import GmoPgConnector
from kessai.providers.gmo_pg.simulator import (
    TEST_SHOP_ID,
    TEST_SHOP_PASS,
    TEST_SITE_ID,
    TEST_SITE_PASS,
)
from kessai.providers.store import ReferenceStore
from kessai.services import Services
from kessai.users.service import Role
from kessai.web.app import create_app
from tests.admin.conftest import PASSWORD, add_user
from tests.factories import act, make_method, make_order, view
from tests.loopback import serve
from tests.subscriptions.conftest import customer_with_card, make_subscription

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]

playwright_api = pytest.importorskip("playwright.async_api", reason="pip install playwright")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} がありません"),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


async def shot(page: Any, name: str) -> None:
    folder = os.environ.get("KESSAI_SCREENSHOTS")
    if folder:
        await page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


async def sign_in(page: Any, base_url: str, email: str) -> None:
    await page.goto(f"{base_url}/admin")
    await page.get_by_label("メールアドレス").fill(email)
    await page.get_by_label("パスワード").fill(PASSWORD)
    await page.get_by_role("button", name="ログイン").click()


async def gmo_card_method(services: Services, base_url: str) -> str:
    """A GMO PG account on the simulator kessai mounts at /sim/gmo-pg, and its card method,
    through the real connector (the test registry holds only the simulated one)."""
    services.registry.register(
        "gmo_pg",
        lambda account_id, settings: GmoPgConnector(
            account_id, settings, ReferenceStore(services.sessions, services.clock, account_id)
        ),
    )
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        account = ProviderAccount(
            provider="gmo_pg",
            name="GMO PG サンドボックス",
            connector="gmo_pg",
            settings={
                "shop_id": TEST_SHOP_ID,
                "shop_pass": TEST_SHOP_PASS,
                "site_id": TEST_SITE_ID,
                "site_pass": TEST_SITE_PASS,
                "endpoint": f"{base_url}/sim/gmo-pg",
            },
            created_at=now,
            updated_at=now,
        )
        s.add(account)
        await s.flush()
        s.add(
            PaymentMethod(
                code="gmo-card",
                name="クレジットカード(GMO PG)",
                provider="gmo_pg",
                method_type="credit_card",
                account_id=account.id,
                cancel_api_link=True,
                created_at=now,
                updated_at=now,
            )
        )
    return "gmo-card"


@pytest.fixture
async def browser(services: Services) -> AsyncIterator[tuple[Any, str]]:
    async with serve(create_app(services)) as base_url, playwright_api.async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = await chromium.new_context(
                locale="ja-JP", viewport={"width": 1366, "height": 900}, accept_downloads=True
            )
            context.set_default_timeout(20_000)
            yield await context.new_page(), base_url
        finally:
            await chromium.close()


async def test_an_operators_day_in_the_admin(browser: tuple[Any, str], services: Services) -> None:
    expect = playwright_api.expect
    page, base_url = browser
    card = await make_method(services)
    authorized = []
    for _ in range(3):
        order_id = await make_order(services, card, amount=5_500)
        await services.payments.run(order_id, act("authorize"))
        authorized.append(order_id)
    declined = await make_order(services, card, amount=3_300)
    await services.payments.run(declined, act("authorize", scenario="decline"))
    holder = await customer_with_card(services, card, name="洗替 花子", updater_result="1")
    await make_subscription(services, card, holder)
    numbers = [(await view(services, i)).number for i in authorized]
    gmo = await gmo_card_method(services, base_url)
    await add_user(services, "admin@example.jp", name="管理 太郎")
    await add_user(services, "ops@example.jp", role=Role.OPERATOR, name="運用 次郎")

    # ログイン → ダッシュボード: 仮売上失敗 1件, a link to exactly that list.
    await sign_in(page, base_url, "admin@example.jp")
    await expect(page.get_by_role("heading", name=re.compile("ダッシュボード"))).to_be_visible()
    failed_line = page.get_by_role("link", name="仮売上失敗 1件")
    await expect(failed_line).to_be_visible()
    await expect(page.get_by_role("link", name="洗替結果 有効性NG 1件")).to_be_visible()
    await shot(page, "dashboard")
    await failed_line.click()
    await expect(page.locator("#orders tbody tr")).to_have_count(1)
    await expect(page.locator("#orders")).to_contain_text("仮売上失敗")

    # A filtered order list: 決済状況 仮売上完了.
    await page.get_by_role("link", name="条件をクリア").click()
    await page.locator("#search #payment_status").select_option(label="仮売上完了")
    await page.get_by_role("button", name="この条件で検索する").click()
    await expect(page.locator("#orders tbody tr")).to_have_count(3)
    await expect(page.locator("#count")).to_contain_text("検索結果 3件")
    await shot(page, "orders")

    # 受注詳細 → 売上処理, confirmed with what goes to the provider.
    await page.get_by_role("link", name=numbers[0], exact=True).click()
    await expect(page.get_by_role("heading", name=f"受注 {numbers[0]}")).to_be_visible()
    await expect(page.locator("#payment-status")).to_have_text("仮売上完了")
    await shot(page, "order-detail")
    await page.locator("#actions").get_by_role("link", name="売上処理", exact=True).click()
    await expect(page.locator("#sends")).to_contain_text("決済サービスへ送信する内容")
    await expect(page.locator("#sends")).to_contain_text("5,500円")
    await page.get_by_label("配送伝票番号").fill("4412-3456-7890")
    await shot(page, "order-capture")
    await page.get_by_role("button", name="売上処理を実行する").click()
    await expect(page.get_by_role("status")).to_have_text("処理が完了しました")
    await expect(page.locator("#payment-status")).to_have_text("売上完了")
    newest = page.locator("#payment-history tbody tr").first
    await expect(newest).to_contain_text("売上処理")
    await expect(newest).to_contain_text("成功")
    await expect(page.locator("#shipment")).to_contain_text("4412-3456-7890")
    await expect(page.locator("#why-capture")).to_contain_text("売上完了")
    await page.get_by_role("link", name="変更履歴").click()
    await expect(page.locator("#change-history")).to_contain_text("仮売上完了 → 売上完了")
    await expect(page.locator("#change-history")).to_contain_text("管理画面")
    assert services.registry.fake(card.account_id).captures() == 1

    # 決済状況一括変更 on 検索結果すべて (the two still 仮売上完了) → the job → its CSV.
    await page.goto(f"{base_url}/admin/orders?payment_status=authorized")
    await expect(page.locator("#orders tbody tr")).to_have_count(2)
    await page.locator("#bulk-action").select_option(label="売上処理")
    await page.get_by_label(re.compile("検索結果すべて")).check()
    await page.get_by_role("button", name="実行する").click()
    await expect(page.locator("#job-status")).to_have_text("完了")
    await expect(page.locator("#job-counts")).to_contain_text("成功 2件")
    async with page.expect_download() as info:
        await page.get_by_role("link", name=re.compile(r"UTF-8 \(BOM付き\)")).click()
    path = Path(await (await info.value).path())
    lines = (await asyncio.to_thread(path.read_bytes)).decode("utf-8-sig").splitlines()
    assert sorted(line.split(",")[1] for line in lines[1:]) == sorted(numbers[1:])
    assert all(",売上処理,仮売上完了,売上完了,成功," in line for line in lines[1:])

    # 定期受注管理: found by 洗替ステータス 有効性NG.
    await (
        page.get_by_role("navigation", name="メニュー")
        .get_by_role("link", name="定期受注管理")
        .click()
    )
    await page.get_by_label("洗替ステータス").select_option(label="有効性NG")
    await page.get_by_role("button", name="この条件で検索する").click()
    await expect(page.locator("#subscriptions tbody tr")).to_have_count(1)
    await expect(page.locator("#subscriptions")).to_contain_text("洗替 花子")
    await shot(page, "subscriptions")
    await page.locator("#subscriptions tbody a").first.click()
    await expect(page.get_by_role("alert")).to_contain_text("このカードには請求しません")
    await page.get_by_role("link", name="洗替 花子").click()
    await expect(page.locator("#cards")).to_contain_text("411111******1111")
    await expect(page.locator("#cards")).to_contain_text("有効性NG")
    await shot(page, "customer")

    # 試験購入: card → GMO token (in the browser) → order → オーソリ → 3-D Secure challenge.
    await page.get_by_role("link", name="試験購入").click()
    await page.get_by_label("支払い方法", exact=True).select_option(value=gmo)
    await expect(page.get_by_label("カード番号")).to_have_value("4000000000003220")
    await expect(page.locator("#scenario-field")).to_be_hidden()  # a real card, no scenario
    await shot(page, "sandbox-shop")
    await page.get_by_role("button", name="購入する").click()
    await expect(page.get_by_role("heading", name="3Dセキュア 本人認証")).to_be_visible()
    await shot(page, "sandbox-3ds")
    await page.get_by_role("link", name="認証する").click()
    await expect(page.locator("#result-status")).to_have_text("仮売上完了")
    await page.get_by_role("link", name="管理画面で受注を開く").click()
    await expect(page.locator("#payment-status")).to_have_text("仮売上完了")
    history = page.locator("#payment-history")
    await expect(history).to_contain_text("オーソリ")
    async with transaction(services.sessions) as s:
        sandbox_order = await s.scalar(
            select(Order).where(Order.number.startswith("SB")).order_by(Order.id.desc())
        )
        assert sandbox_order is not None
        assert "token" in sandbox_order.payment_source
        attempts = (
            await s.scalars(
                select(PaymentAttempt).where(PaymentAttempt.order_id == sandbox_order.id)
            )
        ).all()
    assert "4000000000003220" not in str(sandbox_order.payment_source)
    assert [a.outcome for a in attempts][-1] == "succeeded"

    # A user without 強制売上処理 neither sees it nor can forge it.
    await page.get_by_role("button", name="ログアウト").click()
    await sign_in(page, base_url, "ops@example.jp")
    await page.goto(f"{base_url}/admin/orders/{declined}")
    await expect(page.locator("#actions")).to_contain_text("再オーソリ")
    await expect(page.locator("#actions")).not_to_contain_text("強制売上処理")
    token = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    forged = await page.request.post(
        f"{base_url}/admin/orders/{declined}/actions/force-capture",
        form={"csrf_token": token or ""},
    )
    assert forged.status == 403
    assert "強制売上処理(決済サービス未連携)を実行する権限がありません" in await forged.text()
    assert (await view(services, declined)).payment_status_label == "仮売上失敗"
