"""決済状況一括変更 and the CSV imports in a real browser (Chromium through Playwright):
an operator picks orders, runs 売上処理, watches the job finish and downloads its CSV;
a role without 強制売上処理 cannot run it."""

import asyncio
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kessai.services import Services
from kessai.users.service import Role
from tests.admin.conftest import PASSWORD, add_user
from tests.bulk.helpers import authorized, csv_bytes
from tests.factories import make_method, view
from tests.loopback import serve
from tests.web.conftest import client_for, new_key

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]

playwright_api = pytest.importorskip("playwright.async_api", reason="pip install playwright")
pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} がありません"),
    # One backend is enough for what a browser adds; the HTTP tests cover both.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@pytest.fixture
async def browser_page(services: Services) -> AsyncIterator[tuple[Any, str]]:
    from kessai.web.app import create_app

    async with (
        serve(create_app(services)) as base_url,
        playwright_api.async_playwright() as pw,
    ):
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = await browser.new_context(
                locale="ja-JP", viewport={"width": 1280, "height": 900}, accept_downloads=True
            )
            context.set_default_timeout(8000)
            yield await context.new_page(), base_url
        finally:
            await browser.close()


async def shot(page: Any, name: str) -> None:
    """KESSAI_SCREENSHOTS=/some/dir keeps screenshots of the screens."""
    folder = os.environ.get("KESSAI_SCREENSHOTS")
    if folder:
        await page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


async def downloaded(info: Any) -> bytes:
    path = Path(await (await info.value).path())
    return await asyncio.to_thread(path.read_bytes)


async def sign_in(page: Any, base_url: str, email: str) -> None:
    await page.goto(f"{base_url}/admin/orders")
    await page.get_by_label("メールアドレス").fill(email)
    await page.get_by_label("パスワード").fill(PASSWORD)
    await page.get_by_role("button", name="ログイン").click()
    await playwright_api.expect(page.get_by_role("heading", name="受注管理")).to_be_visible()


async def test_bulk_capture_from_the_list_and_its_csv(
    browser_page: tuple[Any, str], services: Services
) -> None:
    expect = playwright_api.expect
    page, base_url = browser_page
    method = await make_method(services)
    ids = await authorized(services, method, 3)
    numbers = [(await view(services, i)).number for i in ids]
    await add_user(services, "ops@example.jp", role=Role.OPERATOR, name="出荷 担当")
    await sign_in(page, base_url, "ops@example.jp")

    await page.get_by_label(f"受注 {numbers[0]} を選択").check()
    await page.get_by_label(f"受注 {numbers[2]} を選択").check()
    menu = page.get_by_label("決済状況一括変更")
    assert await menu.locator("option").all_inner_texts() == [
        "処理を選択",
        "売上処理",
        "取消処理",
        "再オーソリ処理",
    ]
    await menu.select_option(label="売上処理")
    await shot(page, "bulk-orders")
    await page.get_by_role("button", name="実行する").click()

    await expect(page.get_by_role("heading", name="決済状況一括変更: 売上処理")).to_be_visible()
    await expect(page.locator("#job-status")).to_have_text("完了")  # the page follows the job
    await expect(page.locator("#job-counts")).to_contain_text("成功 2件")
    await expect(page.locator("#job-items")).to_contain_text(numbers[2])
    await shot(page, "bulk-job")

    async with page.expect_download() as info:
        await page.get_by_role("link", name=re.compile(r"UTF-8 \(BOM付き\)")).click()
    body = await downloaded(info)
    assert body.startswith(b"\xef\xbb\xbf")
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0] == "受注ID,受注番号,処理,処理前の決済状況,処理後の決済状況,結果,メッセージ"
    assert sorted(line.split(",")[1] for line in lines[1:]) == sorted([numbers[0], numbers[2]])
    assert all(",売上処理,仮売上完了,売上完了,成功," in line for line in lines[1:])
    async with page.expect_download() as info:
        await page.get_by_role("link", name=re.compile("Shift_JIS")).click()
    sjis = (await downloaded(info)).decode("cp932")
    assert "売上完了" in sjis

    assert services.registry.fake(method.account_id).captures() == 2
    assert (await view(services, ids[1])).payment_status_label == "仮売上完了"
    await (
        page.get_by_role("navigation", name="メニュー")
        .get_by_role("link", name="ジョブ管理")
        .click()
    )
    await expect(page.get_by_role("link", name="決済状況一括変更: 売上処理")).to_be_visible()
    await shot(page, "jobs")


async def test_an_operator_without_force_capture_is_refused(
    browser_page: tuple[Any, str], services: Services
) -> None:
    expect = playwright_api.expect
    page, base_url = browser_page
    method = await make_method(services)
    (order_id,) = await authorized(services, method, 1)
    await add_user(services, "ops@example.jp", role=Role.OPERATOR)
    await sign_in(page, base_url, "ops@example.jp")
    options = await page.locator("#bulk-action option").all_inner_texts()
    assert "強制売上処理" not in options

    await page.get_by_role("link", name="決済状況CSV一括更新").click()
    await expect(page.get_by_text("強制売上処理(権限なし)")).to_be_visible()
    await shot(page, "import-payment-statuses")
    content = csv_bytes([["受注ID", "処理"], [str(order_id), "強制売上処理"]], "cp932")
    await page.get_by_label("CSVファイル").set_input_files(
        {"name": "決済状況.csv", "mimeType": "text/csv", "buffer": content}
    )
    await page.get_by_role("button", name="取り込む").click()

    await expect(page.get_by_role("heading", name="権限がありません")).to_be_visible()
    await expect(page.get_by_role("alert")).to_have_text(
        "強制売上処理を実行する権限がありません(運用担当には許可されていません)"
    )
    assert (await view(services, order_id)).payment_status_label == "仮売上完了"
    async with client_for(services, await new_key(services)) as api:
        assert (await api.get("/api/v1/jobs")).json() == []
