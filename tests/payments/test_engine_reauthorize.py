"""再オーソリ and 与信期限: new references, the FAQ's 与信期限切れ 売上失敗, account overrides."""

from datetime import timedelta

import pytest

from kessai.core.errors import RuleRefused
from tests.factories import SHIP, act, changes, make_method, make_order, view


async def deferred_order(services, **flags):
    method = await make_method(
        services, provider="net_protections", method_type="np_atobarai", **flags
    )
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    return method, order_id


# ---------------------------------------------------------------- 再オーソリ and 与信期限


async def test_reauthorize_after_decline_uses_new_reference(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize", scenario="decline"))
    number = (await view(services, order_id)).number

    r = await services.payments.run(order_id, act("reauthorize"))

    o = await view(services, order_id)
    assert r.outcome == "succeeded"
    assert (o.payment_status_label, o.provider_reference) == ("仮売上完了", f"{number}-2")
    fake = services.registry.fake(method.account_id)
    assert [(c.operation, c.reference) for c in fake.calls] == [
        ("authorize", number),
        ("authorize", f"{number}-2"),
    ]
    assert await changes(services, order_id) == [
        ("pending", "authorize_failed"),
        ("authorize_failed", "pending"),
        ("pending", "authorized"),
    ]


async def test_reauthorize_live_authorization_voids_it_first(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    number = (await view(services, order_id)).number

    await services.payments.run(order_id, act("reauthorize"))

    o = await view(services, order_id)
    assert (o.payment_status_label, o.provider_reference) == ("仮売上完了", f"{number}-2")
    fake = services.registry.fake(method.account_id)
    assert fake.ledger[number].state == "canceled"  # credit never held twice
    assert fake.ledger[f"{number}-2"].state == "authorized"


async def test_reauthorize_past_authorization_limit(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    services.clock.advance(timedelta(days=61))

    await services.payments.run(order_id, act("reauthorize"))

    o = await view(services, order_id)
    assert o.payment_status_label == "仮売上完了"
    assert o.provider_reference.endswith("-2")
    assert o.authorized_at > services.clock.now() - timedelta(minutes=1)


async def test_capture_after_authorization_limit_is_capture_failed(services):
    method = await make_method(services)  # GMO PG: 60日
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    services.clock.advance(timedelta(days=60, minutes=1))
    fake = services.registry.fake(method.account_id)
    calls = len(fake.calls)

    with pytest.raises(RuleRefused) as e:
        await services.payments.run(order_id, act("capture"))

    assert (e.value.status_code, e.value.code) == (409, "authorization_expired")
    assert e.value.detail["next_actions"] == ["reauthorize"]
    assert "与信期限(60日)" in e.value.message
    o = await view(services, order_id)
    assert o.payment_status_label == "売上失敗"
    assert "reauthorize" in o.allowed_actions
    assert len(fake.calls) == calls

    await services.payments.run(order_id, act("reauthorize"))
    r = await services.payments.run(order_id, act("capture"))
    o = await view(services, order_id)
    assert (r.outcome, o.payment_status_label) == ("succeeded", "売上完了")
    assert fake.captures() == 1
    assert fake.captures(o.provider_reference) == 1


async def test_capture_just_before_the_limit_goes_through(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    services.clock.advance(timedelta(days=59, hours=23))
    await services.payments.run(order_id, act("capture"))
    assert (await view(services, order_id)).payment_status_label == "売上完了"


async def test_account_authorization_days_override(services):
    method = await make_method(services, authorization_days=7)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    o = await view(services, order_id)
    assert o.authorization_expires_at == o.authorized_at + timedelta(days=7)
    services.clock.advance(timedelta(days=8))

    with pytest.raises(RuleRefused) as e:
        await services.payments.run(order_id, act("capture"))

    assert e.value.code == "authorization_expired"
    assert e.value.detail["authorization_days"] == 7


async def test_paypay_via_gmo_pg_has_its_own_30_days(services):
    method = await make_method(services, provider="gmo_pg", method_type="paypay")
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    services.clock.advance(timedelta(days=31))
    with pytest.raises(RuleRefused) as e:
        await services.payments.run(order_id, act("capture"))
    assert e.value.detail["authorization_days"] == 30


async def test_deferred_capture_after_authorization_limit_is_refused(services):
    """Issue: 与信期限 (NP後払い 90日) — capturing after it is refused before any call."""
    method, order_id = await deferred_order(services)
    services.clock.advance(timedelta(days=91))
    fake = services.registry.fake(method.account_id)
    calls = len(fake.calls)

    with pytest.raises(RuleRefused) as e:
        await services.payments.run(order_id, act("capture", **SHIP))

    assert e.value.code == "authorization_expired"
    assert e.value.detail["next_actions"] == ["reauthorize"]
    assert len(fake.calls) == calls
    o = await view(services, order_id)
    assert o.payment_status_label == "出荷報告失敗"
    assert "reauthorize" in o.allowed_actions

    await services.payments.run(order_id, act("reauthorize"))
    assert (await view(services, order_id)).payment_status_label == "与信審査完了"
    await services.payments.run(order_id, act("capture", **SHIP))
    assert (await view(services, order_id)).payment_status_label == "売上完了"
