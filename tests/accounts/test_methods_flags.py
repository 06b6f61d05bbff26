"""The seed-003 flags of a payment method: each may be turned on only where the seed offers it
(§2 cancel, §3 amount change, §4 オーソリ時確定フラグ, §5 セキュリティコード)."""

from collections.abc import AsyncIterator

import httpx
import pytest

from kessai.accounts.methods import FLAG_NAMES, flag_refusals, offered_flags
from kessai.payments import capabilities as caps
from kessai.services import Services
from tests.factories import make_method
from tests.web.conftest import client_for, new_key


@pytest.fixture
async def api(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(services, await new_key(services)) as client:
        yield client


# (provider, method_type, flag, offered?, words the refusal must contain)
CASES = [
    ("gmo_pg", "credit_card", "capture_on_authorize", True, ""),
    ("gmo_pg", "epos", "capture_on_authorize", False, "4.オーソリ同時確定が可能な決済"),
    ("komoju", "wechat_pay", "capture_on_authorize", False, "デフォルトでオーソリ"),
    ("gmo_pg", "credit_card", "security_code_required", True, ""),
    ("gmo_pg", "credit_card_recurring", "security_code_required", True, ""),  # PCIDSS利用時のみ
    ("gmo_pg", "paypay", "security_code_required", False, "5.セキュリティコード"),
    ("gmo_pg", "credit_card", "cancel_api_link", True, ""),
    ("gmo_pg", "credit_card", "terminate_api_link", True, ""),
    ("gmo_ps", "atokara", "cancel_api_link", False, "デフォルトでキャンセル連携"),
    ("gmo_ps", "atobarai", "gmops_cancel_link", True, ""),
    ("gmo_pg", "credit_card", "gmops_cancel_link", False, "2.注文のキャンセル連携"),
    ("gmo_ps", "atobarai", "gmops_modify_link", True, ""),
    ("catchball", "atobarai", "atobarai_com_modify_link", True, ""),
    ("gmo_pg", "credit_card", "atobarai_com_modify_link", False, "3.注文の金額変更連携"),
    ("yamato", "paypay", "reduce_link", True, ""),
    ("gmo_pg", "paypay", "reduce_link", False, "3.注文の金額変更連携"),
    ("net_protections", "atone_each", "post_capture_amount_change_link", True, ""),
    ("sbps", "epos", "post_capture_amount_change_link", True, ""),
    ("gmo_pg", "epos", "post_capture_amount_change_link", False, "3.注文の金額変更連携"),
    ("net_protections", "np_atobarai", "post_capture_amount_change_link", False, "3."),
    ("offline", "bank_transfer", "cancel_api_link", False, "2.注文のキャンセル連携"),
]


@pytest.mark.parametrize(("provider", "method_type", "flag", "offered", "words"), CASES)
async def test_a_flag_is_set_only_where_the_seed_offers_it(
    services: Services,
    api: httpx.AsyncClient,
    provider: str,
    method_type: str,
    flag: str,
    offered: bool,
    words: str,
) -> None:
    method = await make_method(
        services, provider=provider, method_type=method_type, cancel_api_link=False
    )
    r = await api.patch(f"/api/v1/payment-methods/{method.id}", json={flag: True})
    shown = (await api.get(f"/api/v1/payment-methods/{method.id}")).json()
    if offered:
        assert r.status_code == 200, r.text
        assert shown["flags"][flag] is True
        assert flag in shown["offered_flags"]
        return
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "invalid_payment_method"
    [error] = body["detail"]["errors"]
    assert (error["field"], error["code"]) == (flag, "flag_not_offered")
    assert words in error["message"]
    assert caps.PROVIDERS[provider] in error["message"]
    assert shown["flags"][flag] is False
    assert flag not in shown["offered_flags"]


async def test_a_refused_flag_leaves_the_other_fields_unchanged(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await make_method(services, provider="gmo_pg", method_type="paypay")
    r = await api.patch(
        f"/api/v1/payment-methods/{method.id}",
        json={"name": "PayPay(新)", "enabled": False, "security_code_required": True},
    )
    assert r.status_code == 422
    shown = (await api.get(f"/api/v1/payment-methods/{method.id}")).json()
    assert (shown["name"], shown["enabled"]) == (method.name, True)
    history = await api.get(f"/api/v1/payment-methods/{method.id}/change-history")
    assert history.json() == []


async def test_a_flag_the_seed_does_not_offer_can_still_be_turned_off(
    services: Services, api: httpx.AsyncClient
) -> None:
    # Set before the rules existed (straight into the database).
    method = await make_method(
        services, provider="gmo_pg", method_type="epos", capture_on_authorize=True
    )
    r = await api.patch(
        f"/api/v1/payment-methods/{method.id}", json={"capture_on_authorize": False}
    )
    assert r.status_code == 200, r.text
    assert r.json()["flags"]["capture_on_authorize"] is False
    [change] = (await api.get(f"/api/v1/payment-methods/{method.id}/change-history")).json()
    assert (change["field"], change["before"], change["after"]) == (
        "capture_on_authorize",
        "ON",
        "OFF",
    )
    assert "オーソリ時確定フラグ" in change["reason"]


async def test_a_changed_flag_changes_what_the_payment_core_does(
    services: Services, api: httpx.AsyncClient
) -> None:
    """オーソリ時確定フラグ set through the API: the next authorization also captures."""
    method = await make_method(services, provider="gmo_pg", method_type="credit_card")
    r = await api.patch(f"/api/v1/payment-methods/{method.id}", json={"capture_on_authorize": True})
    assert r.status_code == 200
    order = await api.post(
        "/api/v1/orders",
        json={
            "customer": {"name": "山田 太郎"},
            "payment_method": method.code,
            "amount": 1000,
            "payment_source": {"token": "tok"},
        },
    )
    authorized = await api.post(f"/api/v1/orders/{order.json()['id']}/payment/authorize", json={})
    assert authorized.status_code == 200, authorized.text
    assert authorized.json()["order"]["payment_status"] == "captured"


def test_every_row_offers_a_consistent_set_of_flags() -> None:
    for row in caps.ROWS:
        refused = flag_refusals(row)
        offered = offered_flags(row.provider, row.method_type)
        assert set(offered) | set(refused) == set(FLAG_NAMES), row
        assert not set(offered) & set(refused), row
        assert ("capture_on_authorize" in offered) == (
            row.capture_on_authorize is caps.CaptureOnAuthorize.FLAG
        ), row
        assert ("security_code_required" in offered) == (
            row.security_code is not caps.SecurityCode.NONE
        ), row
