"""The admin in a real browser (Chromium through Playwright) against the app on loopback:
log in, register a GMO PG account, see the errors by their fields, fix, save, reopen.

Set KESSAI_SCREENSHOTS=/some/dir to keep screenshots of the screens.
"""

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from kessai.accounts import service as accounts
from kessai.accounts.models import ProviderAccount
from kessai.core.db import transaction
from kessai.services import Services
from kessai.web.admin import admin_router
from kessai.web.app import create_app
from tests.admin.conftest import PASSWORD, add_user
from tests.loopback import serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EMAIL = "admin@example.jp"
SHOP_PASSWORD = "Shop-Secret-71"
SITE_PASSWORD = "Site-Secret-72"
SFTP_PASSWORD = "Sftp-Secret-73"

playwright_api = pytest.importorskip("playwright.async_api", reason="pip install playwright")
pytestmark = [
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"{CHROMIUM} がありません (make system-deps で入ります)",
    ),
    # One backend is enough for what a browser adds; the HTTP tests cover both.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


def full_app(services: Services) -> FastAPI:
    """The app as `kessai serve` builds it, with the admin included if app.py does not yet."""
    app = create_app(services)
    if not any(getattr(route, "path", "") == "/admin/login" for route in app.routes):
        app.include_router(admin_router(services))
    return app


@pytest.fixture
async def browser_page(services: Services) -> AsyncIterator[tuple[Any, str]]:
    async with (
        serve(full_app(services)) as base_url,
        playwright_api.async_playwright() as pw,
    ):
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = await browser.new_context(
                locale="ja-JP", viewport={"width": 1280, "height": 900}
            )
            context.set_default_timeout(5000)
            yield await context.new_page(), base_url
        finally:
            await browser.close()


async def shot(page: Any, name: str) -> None:
    folder = os.environ.get("KESSAI_SCREENSHOTS")
    if folder:
        await page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


async def test_register_a_gmo_pg_account_in_the_browser(
    browser_page: tuple[Any, str], services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    expect = playwright_api.expect
    page, base_url = browser_page
    await add_user(services, EMAIL, name="決済 花子")

    async def reachable(*_: Any) -> accounts.ConnectionResult:
        return accounts.ConnectionResult(True, "接続できました", {})

    # The GMO PG check itself is tested with the provider's simulator; here only the button.
    monkeypatch.setitem(accounts.CONNECTION_TESTS, "gmo_pg", reachable)

    await page.goto(f"{base_url}/admin/settings/accounts")
    await expect(page).to_have_url(re.compile(r"/admin/login\?next="))
    await page.get_by_label("メールアドレス").fill(EMAIL)
    await page.get_by_label("パスワード").fill(PASSWORD)
    await page.get_by_role("button", name="ログイン").click()
    await expect(page.get_by_role("heading", name="外部連携アカウント管理")).to_be_visible()

    await page.get_by_role("link", name="新規登録").click()
    await page.get_by_role("link", name=re.compile("^GMO PG")).click()
    await page.get_by_label("アカウント名").fill("GMO PG 本番")
    await page.get_by_label("ショップ ID").fill("tshop00012345")
    await page.get_by_label("ショップパスワード").fill(SHOP_PASSWORD)
    await page.get_by_label("サイト ID").fill("tsite00012345")
    await page.get_by_label("サイトパスワード").fill(SITE_PASSWORD)
    await page.get_by_label("SFTP 接続先 IP アドレス").fill("192.0.2.999")
    await page.locator("#row-auto_card_update").get_by_label("有効").check()
    await page.get_by_role("button", name="登録する").click()

    # Every error at once, each next to its field; nothing saved, no secret sent back.
    await expect(page.locator("#form-errors")).to_contain_text("3件の誤り")
    await expect(page.locator("#row-sftp_host .error")).to_have_text(
        re.compile("IPアドレス(.*)を入力してください")
    )
    await expect(page.locator("#row-sftp_login_id .error")).to_contain_text(
        "自動洗替を有効にする場合はSFTP ログインIDを入力してください"
    )
    await expect(page.get_by_label("ショップパスワード")).to_have_value("")
    await expect(page.get_by_label("ショップ ID")).to_have_value("tshop00012345")
    await shot(page, "account-errors")
    async with transaction(services.sessions) as s:
        assert (await s.scalars(select(ProviderAccount))).all() == []

    await page.get_by_label("ショップパスワード").fill(SHOP_PASSWORD)
    await page.get_by_label("サイトパスワード").fill(SITE_PASSWORD)
    await page.get_by_label("SFTP 接続先 IP アドレス").fill("192.0.2.10")
    await page.get_by_label("SFTP ログインID").fill("gmo-sftp")
    await page.get_by_label("SFTP パスワード").fill(SFTP_PASSWORD)
    await page.get_by_role("button", name="登録する").click()

    await expect(page.get_by_role("status")).to_have_text("外部連携アカウントを登録しました")
    listed = page.locator("#accounts tbody tr", has_text="GMO PG 本番")
    await expect(listed).to_contain_text("設定済み")

    await listed.get_by_role("link", name="編集").click()
    for label in ("ショップパスワード", "サイトパスワード", "SFTP パスワード"):
        field = page.get_by_label(label, exact=True)
        await expect(field).to_have_value("")
        await expect(field).to_have_attribute("placeholder", "設定済み(変更する場合のみ入力)")
    content = await page.content()
    for secret in (SHOP_PASSWORD, SITE_PASSWORD, SFTP_PASSWORD):
        assert secret not in content

    # 接続テスト: htmx posts with the CSRF header and swaps the result line in.
    await page.get_by_role("button", name="接続テスト").click()
    await expect(page.locator("#test-result")).to_contain_text("接続成功")

    await page.get_by_label("ショップパスワード").fill("Shop-Secret-New")
    await page.get_by_role("button", name="保存する").click()
    await expect(page.get_by_role("status").first).to_have_text("設定を保存しました")
    newest = page.locator("#history tbody tr").first
    await expect(newest).to_contain_text("ショップパスワード")
    await expect(newest).to_contain_text("(変更されました)")
    assert "Shop-Secret-New" not in await page.content()
    await shot(page, "account-edit")
