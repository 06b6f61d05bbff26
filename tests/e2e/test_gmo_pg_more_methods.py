"""楽天ペイ V2, リクルートかんたん支払い and エポスかんたん決済 through GMO PG end to end, each with
seed 003's own rules: what the seed lists is sent to GMO (the customer approving on the
simulator's page), what it does not list is refused before any call and left out of the
order's allowed_actions."""

from tests.e2e.test_gmo_pg_redirect import Shop, shop

__all__ = ["shop"]


async def test_rakuten_pay_v2_amount_changes_before_and_after_capture(shop: Shop) -> None:
    order = await shop.approved("gmo-rakuten-v2")
    oid, number = int(order["id"]), str(order["number"])
    assert "change-amount" in order["allowed_actions"]
    r = await shop.act(oid, "change-amount", amount=5_000, tax=454)
    assert r.status_code == 200, r.text
    assert (await shop.multi(number, "rakuten_pay_v2"))["Amount"] == "5000"
    r = await shop.act(oid, "capture")
    assert r.json()["order"]["payment_status_label"] == "売上完了", r.text
    r = await shop.act(oid, "change-amount", amount=6_600, tax=600)
    assert r.status_code == 200, r.text
    trade = await shop.multi(number, "rakuten_pay_v2")
    assert (trade["Status"], trade["Amount"]) == ("SALES", "6600")
    assert [c["result"] for c in await shop.calls("RakutenpayChange")] == ["ok", "ok"]
    r = await shop.act(oid, "cancel")
    assert r.json()["order"]["payment_status_label"] == "取消完了", r.text
    assert (await shop.multi(number, "rakuten_pay_v2"))["Status"] == "RETURN"


async def test_recruit_is_captured_but_never_cancelled_through_kessai(shop: Shop) -> None:
    order = await shop.approved("gmo-recruit", item_name="ご注文商品")
    oid, number = int(order["id"]), str(order["number"])
    r = await shop.act(oid, "capture")
    assert r.json()["order"]["payment_status_label"] == "売上完了", r.text
    assert [c["result"] for c in await shop.calls("RecruitSales")] == ["ok"]
    assert (await shop.multi(number, "recruit"))["Status"] == "SALES"
    # Seed 003 lists リクルートかんたん支払い for オーソリ同時確定 only: no 取消 or 金額変更 連携.
    assert "cancel" not in r.json()["order"]["allowed_actions"]
    assert "change-amount" not in r.json()["order"]["allowed_actions"]
    r = await shop.act(oid, "cancel")
    assert r.status_code == 409, r.text
    r = await shop.act(oid, "change-amount", amount=5_000, tax=454)
    assert r.status_code == 409, r.text
    assert await shop.calls("RecruitCancel") == []
    assert await shop.calls("RecruitChange") == []


async def test_epos_decreases_after_capture_only_and_cancels_after_capture(shop: Shop) -> None:
    order = await shop.approved("gmo-epos")
    oid, number = int(order["id"]), str(order["number"])
    # Seed 003 lists エポス under GMO PG only オーソリ確定後.
    assert "cancel" not in order["allowed_actions"]
    r = await shop.act(oid, "capture")
    assert r.json()["order"]["payment_status_label"] == "売上完了", r.text
    r = await shop.act(oid, "change-amount", amount=6_600, tax=600)
    assert r.status_code == 409, r.text
    assert "減額のみ可能" in r.json()["message"]
    r = await shop.act(oid, "change-amount", amount=4_400, tax=400)
    assert r.status_code == 200, r.text
    assert (await shop.multi(number, "epos"))["Amount"] == "4400"
    assert [c["result"] for c in await shop.calls("EpospayCancelReturn")] == ["ok"]
    r = await shop.act(oid, "cancel")
    assert r.json()["order"]["payment_status_label"] == "取消完了", r.text
    assert (await shop.multi(number, "epos"))["Status"] == "RETURN"
