"""Each payment operation with the semantics of seeds 003/004, as an operator would check it:
決済状況, 対応状況, what reached the provider, and what 決済履歴 says."""

from datetime import date, timedelta

import pytest

from kessai.core.errors import IllegalTransition, InvalidInput, RuleRefused
from tests.factories import SHIP, act, attempts, changes, make_method, make_order, view


def provider_ops(fake, reference=None):
    return [c.operation for c in fake.calls if reference is None or c.reference == reference]


# ---------------------------------------------------------------- オーソリ


async def test_authorize(services):
    method = await make_method(services)
    order_id = await make_order(services, method, amount=12_800, tax=1_163)
    r = await services.payments.run(order_id, act("authorize"))

    o = await view(services, order_id)
    assert r.outcome == "succeeded"
    assert (o.payment_status_label, o.handling_status_label) == ("仮売上完了", "注文確定")
    assert o.provider_reference == o.number
    assert o.provider_transaction_id is not None
    assert o.authorization_expires_at == o.authorized_at + timedelta(days=60)  # GMO PG 60日
    fake = services.registry.fake(method.account_id)
    assert [(c.operation, c.reference, c.amount) for c in fake.calls] == [
        ("authorize", o.number, 12_800)
    ]


async def test_authorize_with_capture_flag_on_gmo_card(services):
    method = await make_method(services, capture_on_authorize=True)
    order_id = await make_order(services, method)
    r = await services.payments.run(order_id, act("authorize"))

    o = await view(services, order_id)
    assert r.outcome == "succeeded"
    assert (o.payment_status_label, o.handling_status_label) == ("売上完了", "注文確定")
    assert o.captured_at is not None
    fake = services.registry.fake(method.account_id)
    assert provider_ops(fake) == ["authorize_capture"]
    assert fake.captures(o.number) == 1


async def test_komoju_wechat_pay_always_captures_on_authorize(services):
    method = await make_method(services, provider="komoju", method_type="wechat_pay")
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))

    assert (await view(services, order_id)).payment_status_label == "売上完了"
    assert provider_ops(services.registry.fake(method.account_id)) == ["authorize_capture"]


async def test_authorize_without_flag_does_not_capture(services):
    method = await make_method(services, capture_on_authorize=False)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    assert services.registry.fake(method.account_id).captures() == 0


async def test_authorize_offline_method_is_refused(services):
    method = await make_method(services, provider="offline", method_type="bank_transfer")
    order_id = await make_order(services, method)
    with pytest.raises(RuleRefused) as e:
        await services.payments.run(order_id, act("authorize"))
    assert e.value.status_code == 409
    assert "決済サービスと連携しないためオーソリできません" in e.value.message
    assert (await view(services, order_id)).payment_status_label == "決済準備中"


# ---------------------------------------------------------------- 売上処理


async def test_capture_card(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    r = await services.payments.run(order_id, act("capture", **SHIP))

    o = await view(services, order_id)
    assert r.outcome == "succeeded"
    assert o.payment_status_label == "売上完了"
    assert (o.shipped_on, o.tracking_number, o.shipment_count) == (
        SHIP["shipped_on"],
        SHIP["tracking_number"],
        1,
    )
    assert services.registry.fake(method.account_id).captures(o.number) == 1
    assert await changes(services, order_id) == [
        ("pending", "authorized"),
        ("authorized", "captured"),
    ]


async def deferred_order(services, **flags):
    method = await make_method(
        services, provider="net_protections", method_type="np_atobarai", **flags
    )
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    return method, order_id


async def test_deferred_authorization_is_credit_check_passed(services):
    _, order_id = await deferred_order(services)
    o = await view(services, order_id)
    assert (o.payment_status_label, o.handling_status_label) == ("与信審査完了", "注文確定")


@pytest.mark.parametrize(
    ("shipment", "missing"),
    [
        ({}, ["発送完了日", "配送伝票番号"]),
        ({"shipped_on": date(2026, 3, 2)}, ["配送伝票番号"]),
        ({"tracking_number": "4412"}, ["発送完了日"]),
    ],
)
async def test_deferred_capture_requires_shipment(services, shipment, missing):
    method, order_id = await deferred_order(services)
    fake = services.registry.fake(method.account_id)
    calls, before = len(fake.calls), await view(services, order_id)
    history = await attempts(services, order_id)

    with pytest.raises(InvalidInput) as e:
        await services.payments.run(order_id, act("capture", **shipment))

    assert e.value.status_code == 422
    assert e.value.code == "shipment_required"
    assert e.value.detail["missing"] == missing
    assert "後払いの売上処理(出荷報告)には" in e.value.message
    after = await view(services, order_id)
    assert after.model_dump() == before.model_dump()  # nothing changed, not even 発送情報
    assert len(fake.calls) == calls
    assert len(await attempts(services, order_id)) == len(history)


async def test_deferred_capture_is_the_shipment_report(services):
    method, order_id = await deferred_order(services)
    r = await services.payments.run(order_id, act("capture", carrier="ヤマト運輸", **SHIP))

    o = await view(services, order_id)
    assert r.outcome == "succeeded"
    assert o.payment_status_label == "売上完了"
    assert await changes(services, order_id) == [
        ("pending", "credit_check_passed"),
        ("credit_check_passed", "captured"),
    ]
    entry = services.registry.fake(method.account_id).ledger[o.number]
    assert (entry.shipment.shipped_on, entry.shipment.tracking_number) == (
        SHIP["shipped_on"],
        SHIP["tracking_number"],
    )


@pytest.mark.parametrize(("scenario", "final"), [("unknown", "売上完了"), ("lost", "出荷報告失敗")])
async def test_deferred_capture_without_answer_is_requested_then_reconciled(
    services, scenario, final
):
    method, order_id = await deferred_order(services)
    r = await services.payments.run(order_id, act("capture", scenario=scenario, **SHIP))

    o = await view(services, order_id)
    assert r.outcome == "unknown"
    assert (o.payment_status_label, o.needs_reconcile) == ("出荷報告依頼中", True)

    await services.payments.run(order_id, act("reconcile"))
    o = await view(services, order_id)
    assert (o.payment_status_label, o.needs_reconcile) == (final, False)
    fake = services.registry.fake(method.account_id)
    assert fake.captures(o.number) == (1 if scenario == "unknown" else 0)


async def test_shipment_report_requested_can_be_force_captured(services):
    """FAQ: 出荷報告依頼中のまま → 後払い側で確認して 強制売上処理(決済サービス未連携)."""
    method, order_id = await deferred_order(services)
    await services.payments.run(order_id, act("capture", scenario="unknown", **SHIP))
    fake = services.registry.fake(method.account_id)
    calls = len(fake.calls)

    await services.payments.run(order_id, act("force-capture"))

    o = await view(services, order_id)
    assert (o.payment_status_label, o.needs_reconcile) == ("売上完了", False)
    assert len(fake.calls) == calls


# ---------------------------------------------------------------- 取消処理


async def test_cancel_full_amount(services):
    method = await make_method(services)
    order_id = await make_order(services, method, amount=7_700, tax=700)
    await services.payments.run(order_id, act("authorize"))
    r = await services.payments.run(order_id, act("cancel"))

    o = await view(services, order_id)
    assert r.outcome == "succeeded"
    assert (o.payment_status_label, o.handling_status_label) == ("取消完了", "キャンセル")
    fake = services.registry.fake(method.account_id)
    assert [(c.operation, c.amount) for c in fake.calls][-1] == ("cancel", 7_700)
    assert fake.ledger[o.number].state == "canceled"


async def test_cancel_after_capture_on_card(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    await services.payments.run(order_id, act("capture"))
    await services.payments.run(order_id, act("cancel"))
    o = await view(services, order_id)
    assert (o.payment_status_label, o.handling_status_label) == ("取消完了", "キャンセル")


async def test_cancel_with_both_flags_off_is_refused_naming_the_flag(services):
    method = await make_method(services, cancel_api_link=False, terminate_api_link=False)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    fake = services.registry.fake(method.account_id)
    calls, before = len(fake.calls), await view(services, order_id)

    with pytest.raises(RuleRefused) as e:
        await services.payments.run(order_id, act("cancel"))

    assert (e.value.status_code, e.value.code) == (409, "rule_refused")
    assert "取消API連携フラグ" in e.value.message
    assert "解約API連携フラグ" in e.value.message
    after = await view(services, order_id)
    assert (after.payment_status_label, after.handling_status_label) == ("仮売上完了", "注文確定")
    assert after.updated_at == before.updated_at
    assert len(fake.calls) == calls
    # Nothing was called and nothing changed: no 決済履歴 row (the caller has the 409).
    assert [a.operation for a in await attempts(services, order_id)] == ["authorize"]


async def test_terminate_flag_alone_allows_cancel(services):
    method = await make_method(services, cancel_api_link=False, terminate_api_link=True)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    await services.payments.run(order_id, act("cancel"))
    assert (await view(services, order_id)).payment_status_label == "取消完了"


async def test_paypay_cancel_after_30_days_is_cancel_failed_without_call(services):
    """FAQ: 決済会社の注文取消期間を経過した受注を取消処理しても「取引キャンセル失敗」."""
    method = await make_method(services, provider="gmo_pg", method_type="paypay")
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    services.clock.advance(timedelta(days=30, minutes=1))
    fake = services.registry.fake(method.account_id)
    calls = len(fake.calls)

    with pytest.raises(RuleRefused) as e:
        await services.payments.run(order_id, act("cancel"))

    assert e.value.status_code == 409
    assert "決済日時から30日を超えるとエラー" in e.value.message
    assert e.value.detail["rule_code"] == "window_expired"
    o = await view(services, order_id)
    assert (o.payment_status_label, o.handling_status_label) == ("取引キャンセル失敗", "注文確定")
    assert len(fake.calls) == calls

    # The FAQ's way out: the provider confirms, the operator runs 強制取消処理.
    await services.payments.run(order_id, act("force-cancel"))
    assert (await view(services, order_id)).payment_status_label == "取消完了"
    assert len(fake.calls) == calls


async def test_paypay_cancel_within_30_days_is_linked(services):
    method = await make_method(services, provider="gmo_pg", method_type="paypay")
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    services.clock.advance(timedelta(days=29))
    await services.payments.run(order_id, act("cancel"))
    assert (await view(services, order_id)).payment_status_label == "取消完了"
    assert provider_ops(services.registry.fake(method.account_id))[-1] == "cancel"


async def test_cancel_before_any_authorization_is_local(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("cancel"))
    assert (await view(services, order_id)).payment_status_label == "取消完了"
    assert services.registry.fake(method.account_id).calls == []


# ---------------------------------------------------------------- 金額変更


async def test_change_amount_before_capture_calls_provider(services):
    method = await make_method(services)
    order_id = await make_order(services, method, amount=5_000, tax=454)
    await services.payments.run(order_id, act("authorize"))
    r = await services.payments.run(order_id, act("change-amount", amount=4_400, tax=400))

    o = await view(services, order_id)
    assert r.outcome == "succeeded"
    assert (o.payment_status_label, o.amount, o.tax) == ("仮売上完了", 4_400, 400)
    fake = services.registry.fake(method.account_id)
    assert [(c.operation, c.amount) for c in fake.calls][-1] == ("change_amount", 4_400)
    assert fake.ledger[o.number].amount == 4_400
    assert await changes(services, order_id, "amount") == [("5000", "4400")]


async def test_change_amount_after_capture_on_card_is_cancel_and_new_charge(services):
    method = await make_method(services)
    order_id = await make_order(services, method, amount=5_000, tax=454)
    await services.payments.run(order_id, act("authorize"))
    await services.payments.run(order_id, act("capture"))
    fake = services.registry.fake(method.account_id)
    calls = len(fake.calls)
    old_txn = (await view(services, order_id)).provider_transaction_id

    await services.payments.run(order_id, act("change-amount", amount=3_300))

    o = await view(services, order_id)
    assert (o.payment_status_label, o.amount) == ("売上完了", 3_300)
    assert provider_ops(fake)[calls:] == ["change_amount"]  # one call
    entry = fake.ledger[o.number]
    assert entry.history[-1] == "cancel 5000 + charge 3300"
    assert (entry.amount, entry.state) == (3_300, "captured")
    assert o.provider_transaction_id == entry.transaction_id != old_txn


@pytest.mark.parametrize(
    ("provider", "method_type"),
    [("net_protections", "np_atobarai"), ("gmo_ps", "atobarai")],
)
async def test_change_amount_after_capture_refused_for_deferred(services, provider, method_type):
    method = await make_method(services, provider=provider, method_type=method_type)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    await services.payments.run(order_id, act("capture", **SHIP))
    fake = services.registry.fake(method.account_id)
    calls = len(fake.calls)

    with pytest.raises(RuleRefused) as e:
        await services.payments.run(order_id, act("change-amount", amount=4_000))

    assert "売上完了後に金額修正ができない方法" in e.value.message
    o = await view(services, order_id)
    assert (o.payment_status_label, o.amount) == ("売上完了", 5_000)
    assert len(fake.calls) == calls


@pytest.mark.parametrize("method_type", ["bank_transfer", "cod", "external"])
async def test_change_amount_after_capture_refused_for_offline(services, method_type):
    method = await make_method(services, provider="offline", method_type=method_type)
    order_id = await make_order(services, method)
    # Before the money is in, only kessai holds the amount.
    await services.payments.run(order_id, act("change-amount", amount=4_500))
    assert (await view(services, order_id)).amount == 4_500
    await services.payments.run(order_id, act("force-capture"))

    with pytest.raises(RuleRefused) as e:
        await services.payments.run(order_id, act("change-amount", amount=4_000))

    assert "銀行振込・代金引換・外部決済" in e.value.message
    o = await view(services, order_id)
    assert (o.payment_status_label, o.amount) == ("売上完了", 4_500)
    assert services.registry.fake(method.account_id).calls == []


async def test_amazon_pay_decrease_is_local_and_captured_at_new_amount(services):
    method = await make_method(services, provider="amazon", method_type="amazon_pay")
    order_id = await make_order(services, method, amount=5_000)
    await services.payments.run(order_id, act("authorize"))
    fake = services.registry.fake(method.account_id)
    calls = len(fake.calls)

    r = await services.payments.run(order_id, act("change-amount", amount=4_200))

    assert r.outcome == "local"
    assert "金額変更時には連携せず" in r.message
    o = await view(services, order_id)
    assert (o.payment_status_label, o.amount) == ("仮売上完了", 4_200)
    assert len(fake.calls) == calls

    await services.payments.run(order_id, act("capture"))
    assert [(c.operation, c.amount) for c in fake.calls][-1] == ("capture", 4_200)
    assert fake.ledger[o.number].amount == 4_200


async def test_decrease_only_refuses_an_increase(services):
    method = await make_method(services, provider="amazon", method_type="amazon_pay")
    order_id = await make_order(services, method, amount=5_000)
    await services.payments.run(order_id, act("authorize"))

    with pytest.raises(RuleRefused) as e:
        await services.payments.run(order_id, act("change-amount", amount=5_500))

    assert e.value.detail["rule_code"] == "increase_not_allowed"
    assert "減額のみ可能" in e.value.message
    assert (await view(services, order_id)).amount == 5_000


async def test_change_amount_input_is_checked(services):
    method = await make_method(services, max_amount=10_000)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    for bad, code in [(0, "amount_out_of_range"), (10_001, "amount_out_of_range")]:
        with pytest.raises(InvalidInput) as e:
            await services.payments.run(order_id, act("change-amount", amount=bad))
        assert e.value.code == code
    with pytest.raises(InvalidInput) as e:
        await services.payments.run(order_id, act("change-amount", amount=5_000))
    assert e.value.code == "amount_unchanged"
    assert (await view(services, order_id)).amount == 5_000


# ---------------------------------------------------------------- 強制売上 / 強制取消


@pytest.mark.parametrize(
    ("action", "label", "operation"),
    [("force-capture", "売上完了", "force_capture"), ("force-cancel", "取消完了", "force_cancel")],
)
async def test_force_actions_never_call_the_provider(services, action, label, operation):
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    fake = services.registry.fake(method.account_id)
    calls = list(fake.calls)

    r = await services.payments.run(order_id, act(action))

    assert r.outcome == "local"
    assert (await view(services, order_id)).payment_status_label == label
    assert fake.calls == calls
    row = (await attempts(services, order_id))[-1]
    assert (row.operation, row.outcome) == (operation, "local")
    assert "決済サービス未連携" in row.note


async def test_force_capture_of_canceled_order_is_refused(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("cancel"))
    with pytest.raises(IllegalTransition):
        await services.payments.run(order_id, act("force-capture"))
