"""試験購入 in Chromium through the providers' own simulators, mounted as `kessai serve` mounts
them in sandbox mode: a PayPay purchase approved on PayPay's customer page ends 仮売上完了 in
the admin; an NP後払い purchase held by NP's credit check (10 保留) shows NP's reason in
Japanese. Accounts are made from each provider's declaration (its sandbox settings)."""

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kessai.services import Services
from kessai.web.app import create_app
from tests.admin.conftest import add_user
from tests.admin.simulated import method_on_simulator
from tests.e2e.test_admin_walk import CHROMIUM, CHROMIUM_ARGS, sign_in
from tests.loopback import serve

playwright_api = pytest.importorskip("playwright.async_api", reason="pip install playwright")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} がありません"),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@pytest.fixture
async def browser(services: Services) -> AsyncIterator[tuple[Any, str]]:
    async with serve(create_app(services)) as base_url, playwright_api.async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = await chromium.new_context(
                locale="ja-JP", viewport={"width": 1280, "height": 900}
            )
            context.set_default_timeout(20_000)
            await add_user(services, "shop@example.jp")
            page = await context.new_page()
            await sign_in(page, base_url, "shop@example.jp")
            yield page, base_url
        finally:
            await chromium.close()


async def test_paypay_approved_on_its_page_ends_authorized_in_the_admin(
    browser: tuple[Any, str], services: Services
) -> None:
    expect = playwright_api.expect
    page, base_url = browser
    paypay = await method_on_simulator(services, base_url, "paypay", "paypay", "paypay")

    await page.goto(f"{base_url}/admin/sandbox/shop")
    await page.get_by_label("支払い方法", exact=True).select_option(value=paypay)
    scenario = page.get_by_label(re.compile("シナリオ"))
    await expect(scenario).to_be_visible()
    await scenario.select_option(value="page")
    await page.get_by_role("button", name="購入する").click()

    # kessai's shop waits while the customer approves on PayPay's own page.
    await expect(page.get_by_role("heading", name="承認画面")).to_be_visible()
    async with page.context.expect_page() as opened:
        await page.get_by_role("link", name="決済サービスの画面を開く").click()
    paypay_page = await opened.value
    await expect(paypay_page.get_by_role("heading", name=re.compile("PayPay"))).to_be_visible()
    await paypay_page.get_by_role("button", name="支払う").click()
    await expect(paypay_page.get_by_text("お支払いが完了しました")).to_be_visible()
    await paypay_page.close()

    await page.get_by_role("link", name="ショップに戻る").click()
    await expect(page.locator("#result-status")).to_have_text("仮売上完了")
    await page.get_by_role("link", name="管理画面で受注を開く").click()
    await expect(page.locator("#payment-status")).to_have_text("仮売上完了")
    await expect(page.locator("#payment-history")).to_contain_text("決済照会")


async def test_np_atobarai_held_shows_the_reason_in_japanese(
    browser: tuple[Any, str], services: Services
) -> None:
    expect = playwright_api.expect
    page, base_url = browser
    np = await method_on_simulator(
        services, base_url, "np_atobarai", "net_protections", "np_atobarai_instant_common"
    )

    await page.goto(f"{base_url}/admin/sandbox/shop")
    await page.get_by_label("支払い方法", exact=True).select_option(value=np)
    scenario = page.get_by_label(re.compile("シナリオ"))
    await scenario.select_option(value="pending")
    await expect(scenario).to_contain_text("保留(与信審査中)")
    await page.get_by_role("button", name="購入する").click()

    await expect(page.locator("#result-status")).to_have_text("与信審査中")
    reason = page.locator("#result-provider")
    await expect(reason).to_contain_text("10")
    await expect(reason).to_contain_text("住所不備")
    await page.get_by_role("link", name="管理画面で受注を開く").click()
    await expect(page.locator("#payment-status")).to_have_text("与信審査中")
    await expect(page.locator("#payment-history")).to_contain_text("与信保留: RE009 住所不備")
