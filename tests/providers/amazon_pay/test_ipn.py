"""Amazon Pay IPN through kessai's inbox: the SNS signature is checked (the configured
certificate in sandbox, an SNS host's in production); a tampered, replayed, duplicate or
late notification is refused or ignored, and nothing changes that Amazon does not say."""

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from kessai.providers.amazon_pay import ipn
from kessai.providers.amazon_pay.sim import sns_certificate_pem
from kessai.providers.kit import Forged, Notification
from tests.inbox.held import HeldAnswer
from tests.providers.amazon_pay.conftest import Shop


async def post(shop: Shop, envelope: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=shop.api_url) as client:
        return await client.post(
            f"/webhooks/amazon_pay/{shop.account_id}", content=json.dumps(envelope)
        )


async def authorized(shop: Shop) -> tuple[dict[str, Any], dict[str, Any]]:
    order = await shop.order()
    r = await shop.act(order["id"], "authorize")
    assert r.json()["order"]["payment_status_label"] == "仮売上完了", r.text
    (charge,) = shop.charges()
    return order, charge


def about(shop: Shop, charge: dict[str, Any]) -> dict[str, Any]:
    envelope: dict[str, Any] = shop.simulator.envelope(
        "CHARGE", charge["chargeId"], charge["chargePermissionId"]
    )
    return envelope


async def test_a_tampered_notification_is_refused_and_nothing_is_stored(shop: Shop) -> None:
    _, charge = await authorized(shop)
    envelope = about(shop, charge)
    message = json.loads(envelope["Message"])
    message["ChargePermissionId"] = "S03-0000000-0000000"
    tampered = {**envelope, "Message": json.dumps(message)}
    r = await post(shop, tampered)
    assert r.status_code == 401, r.text
    assert "署名が一致しません" in r.json()["message"]
    unsigned = {k: v for k, v in envelope.items() if k != "Signature"}
    assert (await post(shop, unsigned)).status_code == 401
    assert await shop.events() == []


async def test_a_notification_sent_twice_is_stored_and_acted_on_once(shop: Shop) -> None:
    _, charge = await authorized(shop)
    envelope = about(shop, charge)
    first, second = await post(shop, envelope), await post(shop, envelope)
    assert (first.status_code, second.status_code) == (200, 200)
    await shop.services.dispatcher.drain()
    (event,) = await shop.events()
    assert event.event_id == envelope["MessageId"]
    assert event.status == "applied"


async def test_a_replayed_old_notification_is_refused(shop: Shop) -> None:
    _, charge = await authorized(shop)
    shop.simulator.clock.offset = -timedelta(hours=2)  # signed two hours ago, sent again now
    envelope = about(shop, charge)
    r = await post(shop, envelope)
    assert r.status_code == 401, r.text
    assert "古すぎる" in r.json()["message"]
    assert await shop.events() == []


async def test_a_late_notification_changes_nothing_amazon_does_not_say(shop: Shop) -> None:
    """The authorization's IPN arrives after the order was cancelled: the inbox asks Amazon,
    which says Canceled, and the order stays 取消完了."""
    order, charge = await authorized(shop)
    late = about(shop, charge)  # made while the charge was Authorized
    r = await shop.act(order["id"], "cancel")
    assert r.json()["order"]["payment_status_label"] == "取消完了", r.text
    assert (await post(shop, late)).status_code == 200
    await shop.services.dispatcher.drain()
    (event,) = await shop.events()
    assert event.status == "applied"
    assert "取消" in (event.result or "")
    got = (await shop.api.get(f"/api/v1/orders/{order['id']}")).json()
    assert got["payment_status_label"] == "取消完了"


async def test_an_ipn_that_overtakes_the_authorization_answer_waits_for_it(shop: Shop) -> None:
    """Amazon notifies of the new charge while kessai still waits for the answer that names
    its charge permission: no order carries it yet. The IPN waits (対象待ち); once the
    answer is committed, the next look applies it: one charge, the order 仮売上完了."""
    await shop.control(ipn_url=f"{shop.api_url}/webhooks/amazon_pay/{shop.account_id}")
    order = await shop.order()
    held = HeldAnswer()
    await shop.harness.use(held.hold)
    acting = asyncio.create_task(shop.act(order["id"], "authorize"))
    await held.acted.wait()
    await shop.simulator.notices.drain()
    await shop.services.dispatcher.drain()
    (event,) = await shop.events()
    assert event.status == "waiting", event.result
    assert "の受注はまだありません" in (event.result or "")
    listed = (await shop.api.get(f"/api/v1/inbound-webhooks/{event.id}")).json()
    assert listed["status_label"] == "対象待ち"

    held.release()
    r = await acting
    assert r.json()["order"]["payment_status_label"] == "仮売上完了", r.text
    clock = await shop.api.post("/api/v1/sandbox/clock", json={"advance_seconds": 5})
    assert clock.status_code == 200, clock.text
    await shop.services.dispatcher.drain()
    (event,) = await shop.events()
    assert (event.status, event.runs) == ("applied", 2), event.result
    assert "一致しています" in (event.result or "")
    assert len(shop.charges()) == 1
    got = (await shop.api.get(f"/api/v1/orders/{order['id']}")).json()
    assert got["payment_status_label"] == "仮売上完了"


async def test_an_ipn_for_a_charge_whose_answer_was_lost_waits_for_the_hourly_lookup(
    shop: Shop,
) -> None:
    """Create Charge's answer is lost just after an hour's 決済結果の自動照会 ran: no order
    carries the charge permission the IPN names until the next hour's 照会 settles the order.
    The IPN still waits then, and its last look applies it: one charge, the order 仮売上完了."""
    await shop.control(ipn_url=f"{shop.api_url}/webhooks/amazon_pay/{shop.account_id}")
    # The buyer's checkout first, signed at this machine's time as the storefront signs it:
    # after the clock moves up to an hour on, Amazon would refuse that signature's date.
    order = await shop.order()
    now = datetime.fromisoformat((await shop.api.get("/api/v1/sandbox/clock")).json()["now"])
    hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    await set_clock(shop, hour + timedelta(seconds=30))  # this hour's 照会 has run: nothing
    await shop.control(lose_response={"api": "CreateCharge", "count": 1, "commit": True})
    r = await shop.act(order["id"], "authorize")
    assert r.status_code < 500, r.text
    assert await shop.status(order["id"]) == "pending"
    (charge,) = shop.charges()  # made at Amazon, its answer lost on the way back
    await shop.simulator.notices.drain()
    await shop.services.dispatcher.drain()
    for pause in (0, 5, 30, 120, 600):  # each look finds no order with the charge permission
        await later(shop, pause)
        (event,) = await shop.events()
        assert event.status == "waiting", event.result
        assert f"「{charge['chargePermissionId']}」の受注はまだありません" in (event.result or "")

    await set_clock(shop, hour + timedelta(hours=1, seconds=15))  # the next hour's 照会
    assert await shop.status(order["id"]) == "authorized"
    (event,) = await shop.events()
    assert (event.status, event.runs) == ("waiting", 5), event.result

    await later(shop, 600)  # the last look, after the hourly 照会
    (event,) = await shop.events()
    assert (event.status, event.runs) == ("applied", 6), event.result
    assert "一致しています" in (event.result or "")
    assert len(shop.charges()) == 1
    got = (await shop.api.get(f"/api/v1/orders/{order['id']}")).json()
    assert got["payment_status_label"] == "仮売上完了"
    authorizations = [a for a in await shop.history(order["id"]) if a["operation"] == "authorize"]
    assert len(authorizations) == 1


async def set_clock(shop: Shop, moment: datetime) -> None:
    r = await shop.api.post("/api/v1/sandbox/clock", json={"set": moment.isoformat()})
    assert r.status_code == 200, r.text
    await shop.services.dispatcher.drain()


async def later(shop: Shop, seconds: int) -> None:
    r = await shop.api.post("/api/v1/sandbox/clock", json={"advance_seconds": seconds})
    assert r.status_code == 200, r.text
    await shop.services.dispatcher.drain()


# --- the verifier alone -----------------------------------------------------------------------


def _certificate(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime(2026, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def _signed(key: rsa.RSAPrivateKey, cert_url: str, version: str = "1") -> dict[str, str]:
    message = {
        "MerchantID": "A1KESSAISIM01",
        "ObjectType": "CHARGE",
        "ObjectId": "S03-1-C",
        "ChargePermissionId": "S03-1",
        "NotificationType": "STATE_CHANGE",
    }
    envelope = {
        "Type": "Notification",
        "MessageId": "0b3f3e1a-1",
        "TopicArn": "arn:aws:sns:us-east-1:1:topic",
        "Message": json.dumps(message),
        "Timestamp": "2026-12-06T12:00:00.000Z",
        "SignatureVersion": version,
        "SigningCertURL": cert_url,
    }
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 - SNS v1
    raw = key.sign(ipn.string_to_sign(envelope).encode(), padding.PKCS1v15(), digest)
    return {**envelope, "Signature": base64.b64encode(raw).decode()}


def _note(envelope: dict[str, str]) -> Notification:
    return Notification(
        body=json.dumps(envelope).encode(),
        headers={},
        received_at=datetime(2026, 12, 6, 12, 0, 5, tzinfo=UTC),
    )


LIVE = {"public_key_id": "LIVE-ABCDEFGHIJ", "merchant_id": "A1KESSAISIM01"}
SNS_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem"


@pytest.mark.parametrize("version", ["1", "2"])
def test_production_trusts_only_a_certificate_served_by_sns(
    monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return _certificate(key)

    monkeypatch.setattr(ipn, "fetch_certificate", fetch)
    monkeypatch.setattr(ipn, "_CERTIFICATES", {})
    verified = ipn.verify(_note(_signed(key, SNS_URL, version)), LIVE)
    assert (verified.event_id, verified.reference) == ("0b3f3e1a-1", "S03-1")
    for url in (
        "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",
        "http://sns.us-east-1.amazonaws.com/cert.pem",
        "https://evil.example/sns.us-east-1.amazonaws.com/cert.pem",
    ):
        with pytest.raises(Forged, match="Amazon SNS"):
            ipn.verify(_note(_signed(key, url, version)), LIVE)
    assert fetched == [SNS_URL]  # fetched once, never from another host


def test_sandbox_trusts_the_configured_certificate_only() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    envelope = _signed(key, SNS_URL)
    sandbox = {"public_key_id": "SANDBOX-ABCDEFGHIJ", "ipn_certificate": _certificate(key)}
    assert ipn.verify(_note(envelope), sandbox).reference == "S03-1"
    other = {**sandbox, "ipn_certificate": sns_certificate_pem()}
    with pytest.raises(Forged, match="署名が一致しません"):
        ipn.verify(_note(envelope), other)
    with pytest.raises(Forged, match="出品者ID"):
        ipn.verify(_note(envelope), {**sandbox, "merchant_id": "A9OTHERSHOP"})
