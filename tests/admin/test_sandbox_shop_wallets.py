"""試験購入 of a GMO PG redirect method (PayPay through GMO) over loopback HTTP, with GMO's
simulator mounted as `kessai serve` mounts it: the shop's 承認画面 links GMO's own start page,
where the customer approves, cancels or lets the time run out; back in the shop, 決済照会
settles the order. (The PayPay and NP後払い walks in Chromium: tests/e2e.)"""

from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from kessai.services import Services
from kessai.web.app import create_app
from tests.admin.conftest import add_user, hidden, login
from tests.admin.simulated import method_on_simulator
from tests.loopback import serve

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
async def shop(services: Services) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with (
        serve(create_app(services)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
    ):
        await add_user(services, "shop@example.jp")
        await login(client, "shop@example.jp")
        method = await method_on_simulator(services, base_url, "gmo_pg", "gmo_pg", "paypay")
        yield client, method


async def to_gmo_page(client: httpx.AsyncClient, method: str) -> tuple[str, str]:
    """Buy with the wallet: kessai's 承認画面, and the GMO page it links (number, page URL)."""
    page = await client.get("/admin/sandbox/shop")
    assert method in page.text
    bought = await client.post(
        "/admin/sandbox/shop",
        data={
            "csrf_token": hidden(page.text, "csrf_token"),
            "payment_method": method,
            "amount": "3,300",
            "scenario": "page",
        },
    )
    assert bought.status_code == 303, bought.text
    approve = bought.headers["location"]
    assert approve.startswith("/admin/sandbox/approve?number=SB")
    shown = await client.get(approve)
    assert "決済サービスの画面を開く" in shown.text
    link = hidden_link(shown.text)
    assert "/sim/gmo-pg/" in link
    number = parse_qs(urlsplit(approve).query)["number"][0]
    return number, link


def hidden_link(html: str) -> str:
    start = html.index('id="provider-page" href="') + len('id="provider-page" href="')
    return html[start : html.index('"', start)].replace("&amp;", "&")


async def back_in_the_shop(client: httpx.AsyncClient, at_gmo: httpx.Response) -> str:
    """GMO sends the customer to the shop's return URL; the shop shows the 決済状況."""
    assert at_gmo.status_code in (302, 303), at_gmo.text
    back = await client.get(at_gmo.headers["location"])
    assert back.status_code == 303, back.text
    result = await client.get(back.headers["location"])
    found = result.text.split('id="result-status">', 1)[1]
    return found.split("<", 1)[0]


async def test_approved_on_gmos_page(shop: tuple[httpx.AsyncClient, str]) -> None:
    client, method = shop
    _, link = await to_gmo_page(client, method)
    start = await client.get(link)
    assert "承認する" in start.text
    assert await back_in_the_shop(client, await client.get(link + "&result=approve")) == (
        "仮売上完了"
    )


async def test_cancelled_on_gmos_page(shop: tuple[httpx.AsyncClient, str]) -> None:
    client, method = shop
    _, link = await to_gmo_page(client, method)
    status = await back_in_the_shop(client, await client.get(link + "&result=refuse"))
    assert status == "仮売上失敗"


async def test_left_until_it_expires(
    shop: tuple[httpx.AsyncClient, str], services: Services
) -> None:
    client, method = shop
    number, link = await to_gmo_page(client, method)
    services.clock.set_offset(timedelta(minutes=31))  # GMO's start page lives 30 minutes
    try:
        expired = await client.get(link)
        assert "承認する" not in expired.text
        back = await client.get(f"/admin/sandbox/return?number={number}")
        result = await client.get(back.headers["location"])
    finally:
        services.clock.set_offset(timedelta(0))
    assert 'id="result-status">仮売上失敗' in result.text
    assert "お客様が支払期限までに決済を完了しませんでした" in result.text
