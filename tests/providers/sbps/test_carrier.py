"""キャリア決済 through SBPS end to end: kessai's API and SBPS's simulator over loopback. The
customer is sent to SBPS's purchase page, pays there, SBPS posts its result notice to
kessai's inbox (answered in SBPS's XML), and the order moves only after a lookup at SBPS."""

from pathlib import Path

import httpx

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.core.db import transaction
from kessai.inbox.models import InboundEvent
from kessai.providers.kit import Forged, Notification
from kessai.providers.sbps import codec, notification
from kessai.providers.sbps.provider import sandbox_settings
from kessai.providers.sbps.sandbox import TEST_HASH_KEY
from tests.providers.sbps.conftest import SHIPMENT, Sbps
from tests.providers.served import TIMEOUT

RECORDINGS = Path(__file__).parent / "recordings"
RETURN = "https://shop.example/thanks"


async def carrier_method(sbps: Sbps) -> str:
    """A キャリア決済 method on the account, and the account told where kessai is."""
    h = sbps.harness
    now = h.services.clock.now()
    async with transaction(h.services.sessions) as s:
        account = await s.get(ProviderAccount, h.account.id)
        assert account is not None
        account.settings = {
            **account.settings,
            "kessai_url": str(sbps.api.base_url).rstrip("/"),
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


async def test_a_carrier_payment_with_its_result_notice(sbps: Sbps) -> None:
    code = await carrier_method(sbps)
    created = await sbps.api.post(
        "/api/v1/orders",
        json={
            "payment_method": code,
            "amount": 3300,
            "customer": {"name": "携帯 花子"},
            "payment_source": {"carrier": "d_barai"},
        },
    )
    order = created.json()["id"]
    answer = (await sbps.act(order, "authorize")).json()
    assert answer["outcome"] == "pending"
    assert answer["order"]["payment_status_label"] == "決済準備中"
    redirect = answer["redirect_url"]
    assert redirect.startswith(f"{sbps.harness.sim_url}/f01/FepBuyInfoReceive.do?pay_method=docomo")

    async with httpx.AsyncClient(timeout=TIMEOUT) as browser:
        page = await browser.get(redirect)
        assert "3,300円" in page.text
        back = await browser.get(
            f"{sbps.harness.sim_url}/f01/pay",
            params={"order_id": answer["order"]["provider_reference"], "result": "OK"},
        )
    assert back.status_code == 303
    assert back.headers["location"] == RETURN
    held = sbps.held(answer["order"]["provider_reference"])
    assert held["method"] == "401"
    assert held["notice_answer"] == "OK"  # kessai answered SBPS's notice as SBPS expects

    await sbps.harness.services.dispatcher.drain()  # the inbox's job: lookup, then settle
    order_now = (await sbps.api.get(f"/api/v1/orders/{order}")).json()
    assert order_now["payment_status_label"] == "仮売上完了"
    sold = (await sbps.act(order, "capture", **SHIPMENT)).json()
    assert sold["order"]["payment_status_label"] == "売上完了"
    assert [c["api"] for c in await sbps.calls()][-1] == "ST02-00201-401"
    canceled = (await sbps.act(order, "cancel")).json()
    assert canceled["order"]["payment_status_label"] == "取消完了"


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
    async with transaction(sbps.harness.services.sessions) as s:
        from sqlalchemy import func, select

        assert await s.scalar(select(func.count()).select_from(InboundEvent)) == 1
