"""決済状況 and 対応状況: the one table, the labels operators read, and refusals that name both."""

from datetime import date

import pytest

from kessai.core.db import transaction
from kessai.core.errors import IllegalTransition
from kessai.history.repository import list_changes
from kessai.orders.present import order_out
from kessai.orders.service import get_order_view
from kessai.payments.status import (
    ACTION_EVENTS,
    TRANSITIONS,
    Action,
    Event,
    HandlingStatus,
    PaymentStatus,
    allows,
    handling_after,
    next_status,
    require_allowed,
)
from tests.factories import act, make_method, make_order

S = PaymentStatus

# The issue's list of 決済状況, word for word.
ISSUE_LABELS = {
    S.PENDING: "決済準備中",
    S.AUTHORIZED: "仮売上完了",
    S.AUTHORIZE_FAILED: "仮売上失敗",
    S.REGISTER_FAILED: "取引登録失敗",
    S.CREDIT_CHECK_PENDING: "与信審査中",
    S.CREDIT_CHECK_PASSED: "与信審査完了",
    S.CREDIT_CHECK_FAILED: "与信審査エラー",
    S.AWAITING_SHIPMENT_REPORT: "出荷報告待ち",
    S.SHIPMENT_REPORT_REQUESTED: "出荷報告依頼中",
    S.SHIPMENT_REPORT_FAILED: "出荷報告失敗",
    S.CAPTURED: "売上完了",
    S.CAPTURE_FAILED: "売上失敗",
    S.CANCELED: "取消完了",
    S.CANCEL_FAILED: "取引キャンセル失敗",
    S.MODIFY_FAILED: "取引修正失敗",
    S.PAYMENT_ERROR: "決済エラー",
    S.RECURRING_WAITING: "決済待ち",
    S.RECURRING_PAID: "決済完了",
    S.RECURRING_REPORTED: "売上報告済",
}


async def view(services, order_id):
    async with transaction(services.sessions) as s:
        return order_out(await get_order_view(s, order_id), services.clock.now())


async def status_changes(services, order_id, field="payment_status"):
    async with transaction(services.sessions) as s:
        rows = await list_changes(s, "order", order_id)
    return [(r.before, r.after) for r in rows if r.field == field]


# ---------------------------------------------------------------- the table as data


def test_every_status_has_a_row_in_the_table():
    assert set(TRANSITIONS) == set(PaymentStatus)


def test_every_target_of_the_table_is_a_status():
    for moves in TRANSITIONS.values():
        assert set(moves.values()) <= set(PaymentStatus)


def test_labels_are_the_words_of_the_issue():
    assert {s: s.label for s in PaymentStatus} == ISSUE_LABELS


def test_handling_labels():
    assert HandlingStatus.CONFIRMED.label == "注文確定"
    assert HandlingStatus.CANCELED.label == "キャンセル"


def test_canceled_is_terminal():
    assert TRANSITIONS[S.CANCELED] == {}
    assert not any(allows(S.CANCELED, a) for a in Action)


def test_every_action_is_possible_from_some_status():
    for action in Action:
        assert any(allows(s, action) for s in PaymentStatus), action


def test_every_event_of_an_action_has_a_move_somewhere():
    for action, events in ACTION_EVENTS.items():
        for event in events:
            assert any(event in TRANSITIONS[s] for s in PaymentStatus), (action, event)


def test_authorize_is_offered_only_before_any_authorization():
    # 与信審査中 can end in 仮売上完了 by a lookup, but a second オーソリ is never offered.
    assert [s for s in PaymentStatus if allows(s, Action.AUTHORIZE)] == [S.PENDING]


def test_reauthorize_is_offered_where_the_faq_retries():
    assert {s for s in PaymentStatus if allows(s, Action.REAUTHORIZE)} == {
        S.AUTHORIZED,  # 与信期限 passed, or the operator replaces it
        S.AUTHORIZE_FAILED,
        S.REGISTER_FAILED,
        S.PAYMENT_ERROR,
        S.CREDIT_CHECK_FAILED,
        S.CAPTURE_FAILED,  # 与信期限切れの売上失敗
        S.SHIPMENT_REPORT_FAILED,  # 後払い: 与信期限切れの出荷報告
        S.MODIFY_FAILED,
    }


def test_every_status_but_canceled_can_be_settled_by_force():
    for s in PaymentStatus:
        if s is not S.CANCELED:
            assert allows(s, Action.FORCE_CANCEL), s


def test_unknown_move_names_status_and_event():
    with pytest.raises(IllegalTransition) as e:
        next_status(S.CANCELED, Event.CAPTURED)
    assert e.value.status_code == 409
    assert "取消完了" in e.value.message


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        (S.CANCELED, Action.CAPTURE, "決済状況が「取消完了」の受注には売上処理を実行できません"),
        (S.PENDING, Action.CAPTURE, "決済状況が「決済準備中」の受注には売上処理を実行できません"),
        (S.CAPTURED, Action.AUTHORIZE, "決済状況が「売上完了」の受注にはオーソリを実行できません"),
        (
            S.CANCELED,
            Action.FORCE_CAPTURE,
            "決済状況が「取消完了」の受注には強制売上処理を実行できません",
        ),
        (
            S.AUTHORIZE_FAILED,
            Action.CAPTURE,
            "決済状況が「仮売上失敗」の受注には売上処理を実行できません",
        ),
    ],
)
def test_refusal_names_status_and_action(status, action, message):
    with pytest.raises(IllegalTransition) as e:
        require_allowed(status, action)
    assert e.value.status_code == 409
    assert e.value.message == message
    assert e.value.detail == {"payment_status": status.value, "action": action.value}


def test_handling_moves_only_on_confirmation_and_cancel():
    new = HandlingStatus.NEW
    assert handling_after(Event.AUTHORIZED, new) is HandlingStatus.CONFIRMED
    assert handling_after(Event.AUTHORIZED_CAPTURED, new) is HandlingStatus.CONFIRMED
    assert handling_after(Event.CREDIT_CHECK_PASSED, new) is HandlingStatus.CONFIRMED
    assert handling_after(Event.CANCELED, HandlingStatus.SHIPPED) is HandlingStatus.CANCELED
    # 強制取消 only touches 決済状況; a failed authorization confirms nothing.
    assert handling_after(Event.FORCE_CANCELED, new) is new
    assert handling_after(Event.FORCE_CAPTURED, new) is new
    assert handling_after(Event.AUTHORIZE_FAILED, new) is new
    assert handling_after(Event.CREDIT_CHECK_STARTED, new) is new
    # An operator's own 対応状況 is never pulled back to 注文確定.
    assert handling_after(Event.AUTHORIZED, HandlingStatus.SHIPPED) is HandlingStatus.SHIPPED


# ---------------------------------------------------------------- through the engine


async def test_capture_of_canceled_order_is_refused_and_nothing_changes(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    await services.payments.run(order_id, act("cancel"))
    fake = services.registry.fake(method.account_id)
    calls = len(fake.calls)
    before = await view(services, order_id)

    with pytest.raises(IllegalTransition) as e:
        await services.payments.run(
            order_id, act("capture", shipped_on=date(2026, 1, 5), tracking_number="1234")
        )

    assert e.value.status_code == 409
    assert e.value.message == "決済状況が「取消完了」の受注には売上処理を実行できません"
    after = await view(services, order_id)
    assert after.payment_status_label == "取消完了"
    assert after.tracking_number is None
    assert after.updated_at == before.updated_at
    assert len(fake.calls) == calls


async def test_handling_confirmed_on_authorization_and_canceled_on_cancel(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    assert (await view(services, order_id)).handling_status_label == "新規受付"

    await services.payments.run(order_id, act("authorize"))
    assert (await view(services, order_id)).handling_status_label == "注文確定"

    await services.payments.run(order_id, act("cancel"))
    o = await view(services, order_id)
    assert (o.payment_status_label, o.handling_status_label) == ("取消完了", "キャンセル")
    assert await status_changes(services, order_id, "handling_status") == [
        ("new", "confirmed"),
        ("confirmed", "canceled"),
    ]


async def test_force_cancel_leaves_handling_alone(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))

    await services.payments.run(order_id, act("force-cancel"))

    o = await view(services, order_id)
    assert (o.payment_status_label, o.handling_status_label) == ("取消完了", "注文確定")


async def test_authorize_during_credit_check_is_refused_without_a_call(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize", scenario="pending"))
    fake = services.registry.fake(method.account_id)

    with pytest.raises(IllegalTransition) as e:
        await services.payments.run(order_id, act("authorize"))

    assert e.value.message == "決済状況が「与信審査中」の受注にはオーソリを実行できません"
    with pytest.raises(IllegalTransition):
        await services.payments.run(order_id, act("reauthorize"))
    assert [c.operation for c in fake.calls] == ["authorize"]


async def test_failed_authorization_does_not_confirm_the_order(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize", scenario="decline"))
    o = await view(services, order_id)
    assert (o.payment_status_label, o.handling_status_label) == ("仮売上失敗", "新規受付")
