"""金額変更 of GMO PG's redirect methods end to end, where seed 003 and GMO allow it: キャリア決済
(d払い・auかんたん決済) オーソリ確定後. A decrease returns the difference (DocomoCancelReturn /
AuCancelReturn with a part of the amount), a d払い increase charges it (DocomoIncrease); the
rules refuse, before any call, what the seed or GMO does not offer."""

from datetime import datetime

from kessai.core.clock import TOKYO
from tests.e2e.test_gmo_pg_redirect import Shop, shop

__all__ = ["shop"]


async def _captured(shop: Shop, carrier: str) -> dict[str, object]:
    order = await shop.approved("gmo-carrier", carrier=carrier)  # 5,500円, 決済日時 2026-11-10
    r = await shop.act(int(str(order["id"])), "capture")
    assert r.json()["order"]["payment_status_label"] == "売上完了", r.text
    return dict(r.json()["order"])


async def test_d_barai_amount_decreased_then_increased_after_capture(shop: Shop) -> None:
    order = await _captured(shop, "d_barai")
    oid, number = int(str(order["id"])), str(order["number"])
    r = await shop.act(oid, "change-amount", amount=5_000, tax=454)
    assert r.status_code == 200, r.text
    assert r.json()["order"]["amount"] == 5_000
    assert r.json()["order"]["payment_status_label"] == "売上完了"
    [decrease] = await shop.calls("DocomoCancelReturn")
    assert decrease["result"] == "ok"
    trade = await shop.multi(number, "d_barai")
    assert (trade["Status"], trade["Amount"]) == ("SALES", "5000")

    r = await shop.act(oid, "change-amount", amount=6_600, tax=600)
    assert r.status_code == 200, r.text
    assert r.json()["order"]["amount"] == 6_600
    [increase] = await shop.calls("DocomoIncrease")
    assert increase["result"] == "ok"
    assert (await shop.multi(number, "d_barai"))["Amount"] == "6600"

    # The cancel afterwards returns what GMO holds now.
    r = await shop.act(oid, "cancel")
    assert r.json()["order"]["payment_status_label"] == "取消完了", r.text
    assert (await shop.multi(number, "d_barai"))["Status"] == "RETURN"


async def test_au_easy_decrease_goes_through_and_an_increase_is_refused_before_any_call(
    shop: Shop,
) -> None:
    order = await _captured(shop, "au_easy")
    oid, number = int(str(order["id"])), str(order["number"])
    r = await shop.act(oid, "change-amount", amount=4_400, tax=400)
    assert r.status_code == 200, r.text
    assert (await shop.multi(number, "au_easy"))["Amount"] == "4400"
    calls = len(await shop.calls("AuCancelReturn"))
    r = await shop.act(oid, "change-amount", amount=5_500, tax=500)
    assert r.status_code == 409, r.text  # the provider's rule: trying later changes nothing
    assert r.json()["code"] == "increase_unsupported"
    assert "増額できません" in r.json()["message"]
    assert len(await shop.calls("AuCancelReturn")) == calls
    assert (await shop.api.get(f"/api/v1/orders/{oid}")).json()["amount"] == 4_400


async def test_amount_change_before_capture_is_refused_by_the_seed(shop: Shop) -> None:
    order = await shop.approved("gmo-carrier", carrier="d_barai")
    r = await shop.act(int(str(order["id"])), "change-amount", amount=5_000, tax=454)
    assert r.status_code == 409, r.text
    assert "金額変更連携に対応していません" in r.json()["message"]
    assert await shop.calls("DocomoCancelReturn") == []


async def test_d_barai_amount_change_after_its_deadline_is_refused_before_any_call(
    shop: Shop,
) -> None:
    order = await _captured(shop, "d_barai")
    shop.services.clock.set_now(datetime(2027, 1, 31, 20, 0, 1, tzinfo=TOKYO))
    r = await shop.act(int(str(order["id"])), "change-amount", amount=5_000, tax=454)
    assert r.status_code == 409, r.text
    assert r.json()["detail"]["rule_code"] == "window_expired"
    assert "翌々月末20時" in r.json()["message"]
    assert await shop.calls("DocomoCancelReturn") == []


async def test_softbank_and_paypay_amount_change_is_refused_before_any_call(shop: Shop) -> None:
    order = await _captured(shop, "softbank_b")
    r = await shop.act(int(str(order["id"])), "change-amount", amount=5_000, tax=454)
    assert r.status_code == 409, r.text
    assert await shop.calls("SbCancel") == []
    paypay = await shop.approved("gmo-paypay")
    r = await shop.act(int(str(paypay["id"])), "change-amount", amount=5_000, tax=454)
    assert r.status_code == 409, r.text
    assert await shop.calls("PaypayCancelReturn") == []
