"""Outbound webhooks never reach into the shop's own network: a destination inside it is
refused when the endpoint is saved (422, nothing saved) and again at send time, after the
host is looked up anew (DNS rebinding), connecting only to the addresses checked; a refused
send is 送信失敗 at once with its reason, shown wherever deliveries are. The sandbox, where
receivers listen on loopback, still delivers. Host names go to a fake resolver (no network).
"""

import html
from datetime import timedelta
from typing import Any

import httpx

from kessai.services import Services
from kessai.webhooks import destination
from tests.admin.conftest import BASE_URL, add_user, admin_app, csrf_of, login
from tests.factories import make_method, make_order
from tests.web.conftest import client_for, new_key
from tests.webhooks.conftest import FakeDNS
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_webhooks import add_endpoint, deliveries, drain

PUBLIC = "93.184.216.34"
# One address of each class refused, as a URL's host would carry it.
INSIDE = [
    ("127.0.0.1", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.5", "private"),
    ("192.168.1.20", "private"),
    ("fd00::5", "private"),
    ("169.254.169.254", "link_local"),
    ("fe80::1", "link_local"),
    ("100.64.0.1", "shared"),
    ("224.0.0.1", "multicast"),
    ("0.0.0.0", "unspecified"),  # noqa: S104 - an address refused, not one bound
    ("240.0.0.1", "reserved"),
    ("192.0.2.1", "not_global"),
    ("::ffff:169.254.169.254", "link_local"),
    ("64:ff9b::a00:5", "private"),
]


def host_of(address: str) -> str:
    return f"[{address}]" if ":" in address else address


async def refused(api: httpx.AsyncClient, url: str) -> dict[str, Any]:
    r = await api.post("/api/v1/webhook-endpoints", json={"url": url})
    assert r.status_code == 422, (url, r.text)
    body: dict[str, Any] = r.json()
    return body


async def test_an_address_inside_is_refused_when_saved_and_nothing_is_saved(
    strict_api: httpx.AsyncClient, dns: FakeDNS
) -> None:
    for address, kind in INSIDE:
        # Written in the URL …
        body = await refused(strict_api, f"http://{host_of(address)}:8080/hook")
        assert body["code"] == destination.NOT_PUBLIC, address
        assert body["detail"]["kind"] == kind, address
        assert destination.KINDS[kind] in body["message"]
        # … or behind a public-looking name.
        name = f"{kind}-{len(dns.table)}.example.jp"
        dns.table[name] = [PUBLIC, address]
        body = await refused(strict_api, f"https://{name}/hook")
        assert (body["code"], body["detail"]["kind"]) == (destination.NOT_PUBLIC, kind)
        assert body["detail"]["host"] == name
        assert name in body["message"]
    body = await refused(strict_api, "https://nowhere.example.jp/hook")
    assert body["code"] == destination.UNRESOLVABLE
    body = await refused(strict_api, f"https://user:pw@{PUBLIC}/hook")
    assert body["code"] == destination.CREDENTIALS
    assert (await strict_api.get("/api/v1/webhook-endpoints")).json() == []

    # A public address passes; moving it inside later is refused and leaves it as it was.
    dns.table["shop.example.jp"] = [PUBLIC, "2606:4700:4700::1111"]
    endpoint = await add_endpoint(strict_api, "https://shop.example.jp/hook")
    path = f"/api/v1/webhook-endpoints/{endpoint['id']}"
    moved = await strict_api.patch(path, json={"url": "http://169.254.169.254/latest/meta-data/"})
    assert moved.status_code == 422
    assert moved.json()["detail"]["kind"] == "link_local"
    assert (await strict_api.get(path)).json()["url"] == "https://shop.example.jp/hook"
    assert len((await strict_api.get("/api/v1/webhook-endpoints")).json()) == 1


async def test_production_needs_https_and_a_public_address(
    production: Services, dns: FakeDNS
) -> None:
    dns.table = {"shop.example.jp": [PUBLIC], "localhost": ["127.0.0.1", "::1"]}
    async with client_for(production, await new_key(production, "production")) as api:
        body = await refused(api, "http://shop.example.jp/hook")
        assert body["code"] == destination.HTTPS_REQUIRED
        assert "https://" in body["message"]
        body = await refused(api, "https://localhost/hook")
        assert body["detail"] == {"host": "localhost", "address": "127.0.0.1", "kind": "loopback"}
        await add_endpoint(api, "https://shop.example.jp/hook")


async def test_a_name_rebound_inside_is_refused_at_send_and_never_retried(
    services: Services,
    strict: Services,
    strict_api: httpx.AsyncClient,
    dns: FakeDNS,
    hooks: Receiver,
) -> None:
    port = hooks.base_url.rsplit(":", 1)[1]
    names = {}
    for address, kind in [*INSIDE, ("10.0.0.5", "private")]:
        name = f"{kind}-{len(names)}.example.jp"
        dns.table[name] = [PUBLIC]  # public when saved
        endpoint = await add_endpoint(strict_api, f"http://{name}:{port}/hook")
        names[endpoint["id"]] = (name, address, kind)
    *_, (mixed, _, _) = names.values()
    for name, address, _kind in names.values():
        # Rebound: loopback reaches the receiver itself, were the address not checked.
        dns.table[name] = [PUBLIC, address] if name == mixed else [address]
    dns.table["gone.example.jp"] = [PUBLIC]
    gone = await add_endpoint(strict_api, f"http://gone.example.jp:{port}/hook")
    del dns.table["gone.example.jp"]  # the name stops resolving: a failed try, retried
    dns.asked.clear()

    await make_order(services, await make_method(services))
    await drain(strict)

    assert hooks.received == []
    found = {d["endpoint_id"]: d for d in await deliveries(strict_api)}
    for endpoint_id, (name, _address, kind) in names.items():
        d = found[endpoint_id]
        assert (d["status"], d["attempts"], d["next_attempt_at"]) == ("failed", 1, None), name
        [attempt] = d["log"]
        assert attempt["status_code"] is None
        assert attempt["refused"] == destination.NOT_PUBLIC
        assert name in attempt["error"]
        assert destination.KINDS[kind] in attempt["error"]
        assert d["last_error"] == attempt["error"]
    assert sorted(dns.asked) == sorted([n for n, _, _ in names.values()] + ["gone.example.jp"])
    waiting = found[gone["id"]]
    assert waiting["status"] == "pending"
    assert waiting["log"][0]["refused"] is None
    assert "gone.example.jp" in waiting["log"][0]["error"]

    strict.clock.advance(timedelta(days=2))
    await drain(strict)
    again = {d["endpoint_id"]: d for d in await deliveries(strict_api)}
    assert all(again[i]["attempts"] == 1 for i in names)  # never tried again
    assert again[gone["id"]]["attempts"] == 2
    assert hooks.received == []


async def test_an_address_saved_while_allowed_is_refused_once_the_setting_is_off(
    services: Services,
    api: httpx.AsyncClient,
    strict: Services,
    strict_api: httpx.AsyncClient,
    hooks: Receiver,
) -> None:
    await add_endpoint(api, hooks.url())  # 127.0.0.1, allowed in the sandbox
    await make_order(services, await make_method(services))
    await drain(strict)
    assert hooks.received == []
    [delivery] = await deliveries(strict_api)
    assert delivery["status"] == "failed"
    assert delivery["log"][0]["refused"] == destination.NOT_PUBLIC
    assert "ループバックアドレス" in delivery["last_error"]

    # 手動再送 is refused the same way, logged as manual; the delivery stays 送信失敗.
    r = await strict_api.post(f"/api/v1/webhook-deliveries/{delivery['id']}/redeliver")
    assert r.status_code == 200, r.text
    assert [(a["refused"], a["manual"]) for a in r.json()["log"]] == [
        (destination.NOT_PUBLIC, False),
        (destination.NOT_PUBLIC, True),
    ]
    assert r.json()["status"] == "failed"
    assert hooks.received == []

    # The admin shows the refusal and its reason, and refuses such a URL in its form.
    await add_user(strict, "admin@example.jp")
    transport = httpx.ASGITransport(app=admin_app(strict))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as admin:
        await login(admin, "admin@example.jp")
        page = html.unescape((await admin.get("/admin/settings/webhooks")).text)
        assert "送信拒否" in page
        assert "ループバックアドレス" in page
        token = await csrf_of(admin, "/admin/settings/webhooks")
        form = {"csrf_token": token, "url": "http://169.254.169.254/latest/meta-data/"}
        bad = await admin.post("/admin/settings/webhooks", data=form)
        assert bad.status_code == 422
        assert "リンクローカルアドレス" in html.unescape(bad.text)
    assert len((await strict_api.get("/api/v1/webhook-endpoints")).json()) == 1


async def test_the_sandbox_delivers_to_loopback_through_the_address_it_checked(
    services: Services, api: httpx.AsyncClient, dns: FakeDNS, hooks: Receiver
) -> None:
    assert destination.Policy.of(services.settings).allow_private  # the sandbox's default
    port = hooks.base_url.rsplit(":", 1)[1]
    dns.table["shop.example.jp"] = ["127.0.0.1"]
    await add_endpoint(api, f"http://shop.example.jp:{port}/hook")
    assert dns.asked == []  # private allowed: nothing to look up when saving
    await make_order(services, await make_method(services))
    await drain(services)
    [got] = hooks.at()
    assert got.type == "order.created"
    assert got.headers["host"] == f"shop.example.jp:{port}"
    assert dns.asked == ["shop.example.jp"]  # the one lookup the connection used
    [delivery] = await deliveries(api)
    assert delivery["status"] == "succeeded"


async def test_a_redirect_is_not_followed(
    services: Services, api: httpx.AsyncClient, hooks: Receiver
) -> None:
    await add_endpoint(api, hooks.url())
    hooks.script["/hook"] = ["redirect:/internal"]
    await make_order(services, await make_method(services))
    await drain(services)
    assert len(hooks.at()) == 1
    assert hooks.at("/internal") == []
    [delivery] = await deliveries(api)
    assert (delivery["status"], delivery["last_status_code"]) == ("pending", 307)
