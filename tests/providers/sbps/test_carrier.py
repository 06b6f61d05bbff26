"""キャリア決済 through SBPS end to end: kessai's API and SBPS's simulator over loopback, on
SQLite and PostgreSQL. The customer takes the signed 購入要求 (link type A01-1) to SBPS's
purchase page, pays there, SBPS posts its 結果CGI (a signed Shift_JIS form) to kessai's inbox,
which answers "OK,", and the order moves only after a lookup at SBPS. Capture is 売上 alone:
carriers have no 確定. The XML API's notices (the anchors' NT01 fixtures) keep their answer."""

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.core.db import transaction
from kessai.inbox import endpoints as inbox_endpoints
from kessai.inbox import service as inbox_service
from kessai.inbox.models import InboundEvent
from kessai.providers.kit import Forged, Notification
from kessai.providers.sbps import codec, notification, requests
from kessai.providers.sbps.config import SbpsConfig
from kessai.providers.sbps.http import SbpsClient
from kessai.providers.sbps.provider import sandbox_settings
from kessai.providers.sbps.sandbox import TEST_HASH_KEY
from tests.providers.sbps.conftest import SHIPMENT, Sbps
from tests.providers.served import TIMEOUT

RECORDINGS = Path(__file__).parent / "recordings"
RETURN = "https://shop.example/thanks"
SJIS = "shift_jis"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

# SBPS's orders of the link type's fields, as its public clients write them: the hash code is
# SHA-1 over the values in this order (empty ones add nothing), then the hash key.
A01_1 = [
    "pay_method",
    "merchant_id",
    "service_id",
    "cust_code",
    "sps_cust_no",
    "sps_payment_no",
    "order_id",
    "item_id",
    "pay_item_id",
    "item_name",
    "tax",
    "amount",
    "pay_type",
    "auto_charge_type",
    "service_type",
    "div_settele",
    "last_charge_month",
    "camp_type",
    "tracking_id",
    "terminal_type",
    "success_url",
    "cancel_url",
    "error_url",
    "pagecon_url",
    "free1",
    "free2",
    "free3",
    "free_csv",
    "request_date",
    "limit_second",
]
RESULT_CGI = [
    "pay_method",
    "merchant_id",
    "service_id",
    "cust_code",
    "order_id",
    "item_id",
    "item_name",
    "amount",
    "sps_cust_no",
    "sps_payment_no",
    "pay_item_id",
    "tax",
    "pay_type",
    "auto_charge_type",
    "service_type",
    "div_settele",
    "last_charge_month",
    "camp_type",
    "tracking_id",
    "terminal_type",
    "free1",
    "free2",
    "free3",
    "dtl_rowno",
    "dtl_item_id",
    "dtl_item_name",
    "dtl_item_count",
    "dtl_tax",
    "dtl_amount",
    "dtl_free1",
    "dtl_free2",
    "dtl_free3",
    "request_date",
    "res_pay_method",
    "res_result",
    "res_tracking_id",
    "res_sps_cust_no",
    "res_sps_payment_no",
    "res_payinfo_key",
    "res_payment_date",
    "res_err_code",
    "res_date",
    "limit_second",
]


def sha1_in(order: list[str], values: dict[str, str]) -> str:
    text = "".join(values.get(name, "") for name in order) + TEST_HASH_KEY
    return hashlib.sha1(text.encode(SJIS)).hexdigest()  # noqa: S324 - SBPS's scheme


def purchase_fields(redirect_url: str) -> list[tuple[str, str]]:
    """The 購入要求 in kessai's redirect URL, read as SBPS reads it (Shift_JIS)."""
    return parse_qsl(urlsplit(redirect_url).query, keep_blank_values=True, encoding=SJIS)


async def carrier_method(sbps: Sbps, kessai_url: str | None = None) -> str:
    """A キャリア決済 method on the account, and the account told where kessai is."""
    h = sbps.harness
    now = h.services.clock.now()
    async with transaction(h.services.sessions) as s:
        account = await s.get(ProviderAccount, h.account.id)
        assert account is not None
        account.settings = {
            **account.settings,
            "kessai_url": kessai_url or str(sbps.api.base_url).rstrip("/"),
            "return_url": RETURN,
        }
        s.add(
            PaymentMethod(
                code="sbps-carrier",
                name="キャリア決済",
                provider="sbps",
                method_type="carrier",
                account_id=account.id,
                enabled=True,
                cancel_api_link=True,
                created_at=now,
                updated_at=now,
            )
        )
    await h.services.registry.forget(h.account.id)
    return "sbps-carrier"


async def pending_carrier_order(
    sbps: Sbps, kessai_url: str | None = None
) -> tuple[int, dict[str, Any]]:
    code = await carrier_method(sbps, kessai_url)
    created = await sbps.api.post(
        "/api/v1/orders",
        json={
            "payment_method": code,
            "amount": 3300,
            "customer": {"name": "携帯 花子"},
            "payment_source": {"carrier": "d_barai"},
        },
    )
    order = int(created.json()["id"])
    answer = (await sbps.act(order, "authorize")).json()
    assert answer["outcome"] == "pending"
    assert answer["order"]["payment_status_label"] == "決済準備中"
    return order, answer


async def events(sbps: Sbps) -> int:
    async with transaction(sbps.harness.services.sessions) as s:
        return int(await s.scalar(select(func.count()).select_from(InboundEvent)) or 0)


@pytest.mark.parametrize("how", ["form_post", "link"])
async def test_a_carrier_payment_with_its_result_notice(sbps: Sbps, how: str) -> None:
    order, answer = await pending_carrier_order(sbps)
    redirect = answer["redirect_url"]
    assert redirect.startswith(f"{sbps.harness.sim_url}/f01/FepBuyInfoReceive.do?pay_method=docomo")
    reference = answer["order"]["provider_reference"]

    async with httpx.AsyncClient(timeout=TIMEOUT) as browser:
        if how == "form_post":  # the storefront's auto-submitting form, as SBPS takes it
            action, _, query = redirect.partition("?")
            page = await browser.post(action, content=query.encode("ascii"), headers=FORM)
        else:  # the redirect URL opened as is
            page = await browser.get(redirect)
        assert page.status_code == 200, page.text
        assert "3,300円" in page.text
        back = await browser.get(
            f"{sbps.harness.sim_url}/f01/pay", params={"order_id": reference, "result": "OK"}
        )
    assert back.status_code == 303
    assert back.headers["location"] == RETURN
    held = sbps.held(reference)
    assert held["method"] == "401"
    # SBPS's 結果CGI reached kessai, which answered as SBPS expects: taken at once.
    notice = await sbps.notice(reference)
    assert (notice["answer"], notice["taken"], notice["next_at"]) == ("OK,", True, None)
    assert len(notice["attempts"]) == 1
    (event,) = await sbps.events()
    assert (event.event, event.reference) == ("結果CGI:docomo:OK", reference)

    await sbps.harness.services.dispatcher.drain()  # the inbox's job: lookup, then settle
    order_now = (await sbps.api.get(f"/api/v1/orders/{order}")).json()
    assert order_now["payment_status_label"] == "仮売上完了"
    sold = (await sbps.act(order, "capture", **SHIPMENT)).json()
    assert sold["order"]["payment_status_label"] == "売上完了"
    sent = [c["api"] for c in await sbps.calls() if c["api"].startswith("ST")]
    assert sent == ["ST02-00201-401"]  # 売上 alone: a carrier has no 確定
    canceled = (await sbps.act(order, "cancel")).json()
    assert canceled["order"]["payment_status_label"] == "取消完了"
    assert [c["api"] for c in await sbps.calls()][-1] == "ST02-00303-401"


async def test_the_purchase_request_is_signed_in_sbps_order(sbps: Sbps) -> None:
    _, answer = await pending_carrier_order(sbps)
    redirect = answer["redirect_url"]
    assert "item_name=%82%B2%92%8D%95%B6" in redirect  # ご注文 in Shift_JIS
    fields = purchase_fields(redirect)
    names = [name for name, _ in fields]
    assert names[-1] == "sps_hashcode"
    assert names[:-1] == [name for name in A01_1 if name in names]  # SBPS's order
    values = dict(fields)
    assert values["item_name"] == "ご注文"
    assert (values["pay_method"], values["amount"]) == ("docomo", "3300")
    assert values["pagecon_url"].endswith(f"/webhooks/sbps/{sbps.harness.account.id}")
    assert values["sps_hashcode"] == sha1_in(A01_1, values)


def _resigned(fields: list[tuple[str, str]], **changes: str | None) -> str:
    values = {name: value for name, value in fields if name != "sps_hashcode"} | changes
    kept = {name: value for name, value in values.items() if value is not None}
    return urlencode([*kept.items(), ("sps_hashcode", sha1_in(A01_1, kept))], encoding=SJIS)


async def test_a_purchase_request_sbps_would_refuse_shows_an_error_and_records_nothing(
    sbps: Sbps,
) -> None:
    _, answer = await pending_carrier_order(sbps)
    action, _, good = answer["redirect_url"].partition("?")
    fields = purchase_fields(answer["redirect_url"])
    bad = {
        "amount changed after signing": good.replace("amount=3300", "amount=1"),
        "unknown merchant": _resigned(fields, merchant_id="99999"),
        "no item_name": _resigned(fields, item_name=None),
        "not Shift_JIS": good.replace("%82%B2%92%8D%95%B6", "%FF%FF"),
        "a field SBPS does not take": _resigned(fields) + "&coupon=1",
    }
    async with httpx.AsyncClient(timeout=TIMEOUT) as browser:
        for why, body in bad.items():
            page = await browser.post(action, content=body.encode("ascii"), headers=FORM)
            assert page.status_code == 400, why
            assert "購入要求が正しくありません" in page.text, why
        assert (await browser.get(f"{action}?{bad['unknown merchant']}")).status_code == 400
        assert sbps.simulator.purchases == {}
        kept = (await sbps.sim.get("/_records", params={"kind": "purchase"})).json()
        assert kept.get("purchase", {}) == {}
        assert sbps.simulator.transactions == {}
        # The same request as kessai signed it is taken.
        taken = await browser.post(action, content=good.encode("ascii"), headers=FORM)
        assert taken.status_code == 200, taken.text
    assert list(sbps.simulator.purchases) == [answer["order"]["provider_reference"]]


async def customer_pays(sbps: Sbps, answer: dict[str, Any]) -> str:
    """The customer opens the purchase page and pays; SBPS's first 結果CGI is then posted."""
    reference = str(answer["order"]["provider_reference"])
    async with httpx.AsyncClient(timeout=TIMEOUT) as browser:
        assert (await browser.get(answer["redirect_url"])).status_code == 200
        back = await browser.get(
            f"{sbps.harness.sim_url}/f01/pay", params={"order_id": reference, "result": "OK"}
        )
    assert back.status_code == 303
    return reference


async def test_a_notice_kessai_does_not_answer_ok_is_sent_again_until_the_schedule_ends(
    sbps: Sbps,
) -> None:
    # pagecon_url leads nowhere kessai answers "OK,": SBPS posts it again, then gives up.
    shown = (await sbps.sim.get("/_control")).json()["notices"]["resend_pauses"]
    assert shown == [60.0, 120.0, 240.0, 480.0]  # SBPS's schedule as the simulator has it
    await sbps.control(resend_pauses=[0, 0.01])
    nowhere = f"{str(sbps.api.base_url).rstrip('/')}/nowhere"
    _, answer = await pending_carrier_order(sbps, kessai_url=nowhere)
    reference = await customer_pays(sbps, answer)
    await sbps.simulator.notices.drain()
    notice = await sbps.notice(reference)
    assert (notice["taken"], notice["next_at"]) == (False, None)
    assert [a["status"] for a in notice["attempts"]] == [404, 404, 404]
    assert not any(a["answer"].startswith("OK,") for a in notice["attempts"])
    logged = [c["result"] for c in await sbps.calls("結果CGI")]
    assert logged == ["not_taken"] * 3
    assert await events(sbps) == 0


async def test_the_resend_schedule_refuses_what_is_not_seconds(sbps: Sbps) -> None:
    for bad in ([-1], ["60"], [True], 60, [1.0] * 21):
        refused = await sbps.sim.post("/_control", json={"resend_pauses": bad})
        assert refused.status_code == 400, bad
    shown = (await sbps.sim.get("/_control")).json()["notices"]["resend_pauses"]
    assert shown == [60.0, 120.0, 240.0, 480.0]


async def test_sbps_refuses_a_commit_for_a_carrier(sbps: Sbps) -> None:
    """SBPS has no 確定 for carriers: the request id is unknown to it (xxx05000)."""
    _, answer = await pending_carrier_order(sbps)
    reference = answer["order"]["provider_reference"]
    async with httpx.AsyncClient(timeout=TIMEOUT) as browser:
        await browser.get(answer["redirect_url"])
        await browser.get(
            f"{sbps.harness.sim_url}/f01/pay", params={"order_id": reference, "result": "OK"}
        )
    held = sbps.held(reference)
    config = SbpsConfig.from_settings(sandbox_settings(sbps.harness.sim_url))
    client = SbpsClient(config)
    try:
        nodes = requests.on_transaction(
            config,
            {
                "sps_transaction_id": held["sps_transaction_id"],
                "tracking_id": held["tracking_id"],
                "processing_datetime": held["process_date"],
            },
            sbps.harness.services.clock.now(),
        )
        refused = await client.call("ST02-00101-401", nodes, ref=reference)
    finally:
        await client.aclose()
    assert (refused.get("res_result"), refused.get("res_err_code")) == ("NG", "40105000")
    assert sbps.held(reference)["status"] == "2"


def _result_cgi(**changes: str) -> dict[str, str]:
    """A 結果CGI as SBPS posts it after a d払い purchase, for the sandbox account."""
    values = {
        "pay_method": "docomo",
        "merchant_id": "30132",
        "service_id": "002",
        "cust_code": "K-1",
        "order_id": "K-1",
        "item_id": "kessai",
        "item_name": "ご注文",
        "amount": "3300",
        "pay_type": "0",
        "service_type": "0",
        "terminal_type": "0",
        "request_date": "20260302101500",
        "res_pay_method": "docomo",
        "res_result": "OK",
        "res_tracking_id": "00000000000001",
        "res_payinfo_key": "P1",
        "res_payment_date": "20260302101612",
        "res_err_code": "",
        "res_date": "20260302101613",
    }
    return values | changes


def _form(values: dict[str, str], order: list[str] = RESULT_CGI) -> bytes:
    signed = [*values.items(), ("sps_hashcode", sha1_in(order, values))]
    return urlencode(signed, encoding=SJIS).encode("ascii")


def test_the_result_notice_is_verified_and_answered_ok() -> None:
    settings = sandbox_settings("http://sim")
    verified = notification.verify(Notification(_form(_result_cgi()), {}), settings)
    assert (verified.reference, verified.data["res_result"]) == ("K-1", "OK")
    assert verified.data["tracking_id"] == "00000000000001"
    body, media = notification.answer(verified)
    assert (body, media) == (b"OK,", "text/plain; charset=Shift_JIS")
    # SBPS sends it again when not taken: the same notice is the same event.
    again = notification.verify(
        Notification(_form(_result_cgi(res_date="20260302111613")), {}), settings
    )
    assert again.event_id == verified.event_id


def test_result_notices_that_do_not_verify_are_refused() -> None:
    settings = sandbox_settings("http://sim")
    good = _form(_result_cgi())
    for why, body in {
        "amount changed": good.replace(b"amount=3300", b"amount=1"),
        "another merchant": _form(_result_cgi(merchant_id="99999")),
        "signed in the 購入要求's order": _form(_result_cgi(), A01_1),
        "no hash code": urlencode(_result_cgi(), encoding=SJIS).encode("ascii"),
        "not Shift_JIS": good.replace(b"%82%B2", b"%FF%FF"),
    }.items():
        try:
            notification.verify(Notification(body, {}), settings)
        except Forged:
            continue
        raise AssertionError(f"a notice that does not verify was accepted: {why}")


async def test_a_forged_result_notice_posted_to_kessai_is_refused_and_stores_nothing(
    sbps: Sbps,
) -> None:
    inbox = f"/webhooks/sbps/{sbps.harness.account.id}"
    forged = _form(_result_cgi()).replace(b"amount=3300", b"amount=1")
    refused = await sbps.api.post(inbox, content=forged, headers=FORM)
    assert refused.status_code == 401
    assert not refused.text.startswith("OK,")
    assert await events(sbps) == 0
    taken = await sbps.api.post(inbox, content=_form(_result_cgi()), headers=FORM)
    assert (taken.status_code, taken.content) == (200, b"OK,")
    assert await events(sbps) == 1


async def test_an_unknown_carrier_is_refused_before_anything_is_sent(sbps: Sbps) -> None:
    code = await carrier_method(sbps)
    created = await sbps.api.post(
        "/api/v1/orders",
        json={
            "payment_method": code,
            "amount": 3300,
            "customer": {"name": "携帯 花子"},
            "payment_source": {"carrier": "pigeon"},
        },
    )
    refused = await sbps.act(created.json()["id"], "authorize")
    assert refused.status_code == 422
    assert refused.json()["code"] == "sbps_unknown_carrier"


def _notice(merchant: str = "30132", service: str = "002") -> bytes:
    """The webcvs notice fixture's fields, for this account, signed with its hash key."""
    fixture = codec.decode((RECORDINGS / "webcvs_notice_request.xml").read_bytes())
    nodes = [
        (n, v) for n, v in fixture.nodes if n not in ("sps_hashcode", "merchant_id", "service_id")
    ]
    signed = [("merchant_id", merchant), ("service_id", service), *nodes]
    return codec.encode("sps-api-request", fixture.api_id, signed, TEST_HASH_KEY)


def test_the_notice_fixture_is_answered_as_sbps_expects() -> None:
    settings = sandbox_settings("http://sim")
    verified = notification.verify(Notification(_notice(), {}), settings)
    assert verified.event == "NT01-00103-701"
    body, media = notification.answer(verified)
    assert body == (RECORDINGS / "webcvs_notice_response.xml").read_bytes().rstrip(b"\n")
    assert "Shift_JIS" in media


def test_notices_that_do_not_verify_are_refused() -> None:
    settings = sandbox_settings("http://sim")
    # The fixture as published carries a placeholder hash code and a dummy merchant.
    fixture = (RECORDINGS / "webcvs_notice_request.xml").read_bytes()
    for body in (fixture, _notice(merchant="99999"), _notice().replace(b"10800", b"10900")):
        try:
            notification.verify(Notification(body, {}), settings)
        except Forged:
            continue
        raise AssertionError("a notice that does not verify was accepted")


async def test_a_forged_notice_posted_to_kessai_is_refused_and_stores_nothing(sbps: Sbps) -> None:
    fixture = (RECORDINGS / "webcvs_notice_request.xml").read_bytes()
    reply = await sbps.api.post(f"/webhooks/sbps/{sbps.harness.account.id}", content=fixture)
    assert reply.status_code == 401
    good = await sbps.api.post(f"/webhooks/sbps/{sbps.harness.account.id}", content=_notice())
    assert good.status_code == 200
    assert good.content == (RECORDINGS / "webcvs_notice_response.xml").read_bytes().rstrip(b"\n")
    assert await events(sbps) == 1


@pytest.mark.parametrize("fault", ["kessai_down", "answer_lost"])
async def test_a_notice_kessai_failed_to_take_is_sent_again_and_acted_on_once(
    sbps: Sbps, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    """kessai answers the first 結果CGI with HTTP 500: before storing it (down) or after
    (the answer lost). SBPS posts it again; kessai takes it, stores one event and settles the
    order once; a later duplicate of the taken notice changes nothing."""
    failures: list[str] = []

    async def receive_failing_once(*args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append(fault)
            if fault == "kessai_down":
                raise ConnectionRefusedError("simulated: kessai's database is unreachable")
            await inbox_service.receive(*args, **kwargs)
            raise ConnectionResetError("simulated: stored, then the answer was lost")
        return await inbox_service.receive(*args, **kwargs)

    monkeypatch.setattr(inbox_endpoints, "receive", receive_failing_once)
    await sbps.control(resend_pauses=[0.05, 0.1, 0.2])  # growing, as SBPS's, but short
    order, answer = await pending_carrier_order(sbps)
    reference = await customer_pays(sbps, answer)

    first = await sbps.notice(reference)
    assert (first["taken"], [a["status"] for a in first["attempts"]]) == (False, [500])
    assert first["next_at"] is not None  # a re-send is due
    await sbps.simulator.notices.drain()
    taken = await sbps.notice(reference)
    assert failures == [fault]
    assert [(a["status"], a["answer"]) for a in taken["attempts"]] == [
        (500, first["attempts"][0]["answer"]),
        (200, "OK,"),
    ]
    assert (taken["taken"], taken["next_at"]) == (True, None)
    assert [c["result"] for c in await sbps.calls("結果CGI")] == ["not_taken", "ok"]

    await sbps.services.dispatcher.drain()
    (event,) = await sbps.events()
    assert (event.event, event.reference) == ("結果CGI:docomo:OK", reference)
    assert (await sbps.api.get(f"/api/v1/orders/{order}")).json()[
        "payment_status_label"
    ] == "仮売上完了"
    settled = await sbps.history(order)
    assert [(h["operation"], h["outcome"], h["actor"]) for h in settled] == [
        ("authorize", "pending", "api:storefront"),
        ("lookup", "succeeded", "webhook:sbps"),  # settled once, by the one event
    ]
    lookups = await sbps.calls("MG01-00101-401")
    assert len(lookups) == 1  # one look at SBPS, for the one event
    assert sbps.held(reference)["status"] == "2"  # one payment at SBPS, held once

    # SBPS posts the taken notice once more (it lost kessai's answer): nothing changes.
    await sbps.control(resend_notice=sbps.held(reference)["tracking_id"])
    again = await sbps.notice(reference)
    assert [a["status"] for a in again["attempts"]] == [500, 200, 200]
    assert again["attempts"][-1]["answer"] == "OK,"
    await sbps.services.dispatcher.drain()
    assert [e.id for e in await sbps.events()] == [event.id]
    assert await sbps.history(order) == settled
    assert len(await sbps.calls("MG01-00101-401")) == 1
    assert (await sbps.api.get(f"/api/v1/orders/{order}")).json()[
        "payment_status_label"
    ] == "仮売上完了"
