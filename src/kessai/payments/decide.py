"""Turns an action on an order into a plan, asking the status table and seed 003's rules.

Pure: reads the order as loaded, the clock's now, and returns a Local, Call or Refuse.
"""

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from kessai.accounts.connection import connects, not_connected
from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.core.errors import Conflict, InvalidInput, RuleRefused
from kessai.orders.models import Order
from kessai.payments import capabilities as caps
from kessai.payments.capabilities.reauthorization import (
    max_reauthorizations,
    reauthorization_allowed,
    reauthorizations_done,
)
from kessai.payments.plans import (
    ActionRequest,
    Call,
    Local,
    Operation,
    Plan,
    Refuse,
)
from kessai.payments.status import (
    Action,
    Event,
    PaymentStatus,
    require_allowed,
)
from kessai.providers.contract import Shipment

S = PaymentStatus

# Statuses in which the provider holds no live transaction for the order.
NO_LIVE_TRANSACTION = frozenset(
    {
        S.PENDING,
        S.AUTHORIZE_FAILED,
        S.REGISTER_FAILED,
        S.PAYMENT_ERROR,
        S.CREDIT_CHECK_FAILED,
        S.RECURRING_WAITING,
        S.CANCELED,
    }
)


@dataclass(frozen=True)
class OrderFacts:
    order: Order
    method: PaymentMethod
    account: ProviderAccount | None
    now: datetime

    @property
    def status(self) -> PaymentStatus:
        return PaymentStatus(self.order.payment_status)

    @cached_property  # asked once per action; several times when offers are listed
    def row(self) -> caps.CapabilityRow:
        return caps.row(self.method.provider, self.method.method_type)

    @property
    def kind(self) -> caps.MethodKind:
        return self.row.kind

    @cached_property
    def flags(self) -> caps.MethodFlags:
        m = self.method
        return caps.MethodFlags(
            cancel_api_link=m.cancel_api_link,
            terminate_api_link=m.terminate_api_link,
            capture_on_authorize=m.capture_on_authorize,
            post_capture_amount_change_link=m.post_capture_amount_change_link,
            gmops_cancel_link=m.gmops_cancel_link,
            gmops_modify_link=m.gmops_modify_link,
            atobarai_com_modify_link=m.atobarai_com_modify_link,
            reduce_link=m.reduce_link,
            security_code_required=m.security_code_required,
        )

    @property
    def awaiting_customer(self) -> bool:
        """決済準備中 while the customer completes 3-D Secure or a wallet's approval at the
        provider, or has a payment slip (コンビニ・銀行振込) still to pay."""
        o = self.order
        return self.status is S.PENDING and bool(o.redirect_url or o.payment_slip)

    @property
    def phase(self) -> caps.Phase:
        return caps.Phase.AFTER_CAPTURE if self.order.captured_at else caps.Phase.BEFORE_CAPTURE

    def context(self, *, new_amount: int | None = None) -> caps.PaymentContext:
        o = self.order
        return caps.PaymentContext(
            provider=self.method.provider,
            method_type=self.method.method_type,
            flags=self.flags,
            now=self.now,
            ordered_at=o.ordered_at,
            authorized_at=o.authorized_at,
            captured_at=o.captured_at,
            paid=self.status not in (S.PENDING, S.RECURRING_WAITING),
            three_d_secure=o.three_d_secure,
            tracking_linked=o.tracking_reported,
            old_amount=o.amount,
            new_amount=new_amount,
            carrier=self.carrier,
        )

    @property
    def carrier(self) -> caps.Carrier | None:
        """キャリア決済: which carrier the customer paid with, as the storefront told us."""
        raw = self.order.payment_source.get("carrier")
        try:
            return caps.Carrier(raw) if raw else None
        except ValueError:
            return None

    def authorization_expired(self) -> bool:
        o = self.order
        if o.authorized_at is None or o.captured_at is not None:
            return False
        return caps.authorization_expired(
            self.method.provider,
            o.authorized_at,
            self.now,
            self.account.authorization_days if self.account else None,
            method_type=self.method.method_type,
        )

    def authorization_days(self) -> int | None:
        return caps.authorization_days_for(
            self.method.provider,
            self.method.method_type,
            self.account.authorization_days if self.account else None,
        )


def validate_amount(method: PaymentMethod, amount: int, tax: int) -> None:
    """Amounts are integer yen within the method's limits; tax is part of the amount."""
    if amount < method.min_amount or amount > method.max_amount:
        raise InvalidInput(
            f"金額は{method.min_amount:,}円以上{method.max_amount:,}円以下で指定してください"
            f"(支払い方法: {method.name})",
            code="amount_out_of_range",
            detail={"amount": amount, "min": method.min_amount, "max": method.max_amount},
        )
    if tax < 0 or tax > amount:
        raise InvalidInput(
            "消費税額は0円以上、合計金額以下で指定してください",
            code="tax_out_of_range",
            detail={"tax": tax, "amount": amount},
        )


def _refusal(decision: caps.Decision, action: Action) -> RuleRefused:
    return RuleRefused(
        f"{action.label}できません: {decision.rule}",
        code="rule_refused",
        detail={"rule": decision.rule, "rule_code": decision.code, "action": action.value},
    )


def _authorization_reference(order: Order) -> str:
    # A new attempt after a failure gets a new provider reference (GMO: a new OrderID).
    n = order.authorization_count + 1
    return order.number if n == 1 else f"{order.number}-{n}"


def decide(f: OrderFacts, req: ActionRequest) -> Plan:
    plan = _decide(f, req)
    account = f.account
    if isinstance(plan, Call) and account is not None and not connects(account.connector):
        # Nothing can reach the provider: refused before the write-ahead, no 決済履歴.
        return Refuse(not_connected(account.integration, account.id))
    return plan


def _decide(f: OrderFacts, req: ActionRequest) -> Plan:
    action = Action(req.action)
    if action is Action.AUTHORIZE:
        return _authorize(f, req, action)
    if action is Action.REAUTHORIZE:
        return _reauthorize(f, req)
    if action is Action.CAPTURE:
        return _capture(f, req)
    if action is Action.CANCEL:
        return _cancel(f)
    if action is Action.CHANGE_AMOUNT:
        return _change_amount(f, req)
    if action is Action.FORCE_CAPTURE:
        require_allowed(f.status, action)
        fields: dict[str, object] = {}
        if f.order.captured_at is None:
            fields["captured_at"] = f.now
        return Local(Operation.FORCE_CAPTURE, Event.FORCE_CAPTURED, fields, "決済サービス未連携")
    if action is Action.FORCE_CANCEL:
        require_allowed(f.status, action)
        return Local(Operation.FORCE_CANCEL, Event.FORCE_CANCELED, {}, "決済サービス未連携")
    raise InvalidInput(f"不明な処理です: {req.action}", code="unknown_action")


def _authorize(f: OrderFacts, req: ActionRequest, action: Action) -> Plan:
    require_allowed(f.status, Action.AUTHORIZE)  # 再オーソリ arrives here from 決済準備中 only
    if f.awaiting_customer:
        raise _awaiting_customer(f)
    if f.kind is caps.MethodKind.OFFLINE:
        raise RuleRefused(
            f"{f.method.name}は決済サービスと連携しないため{action.label}できません",
            code="rule_refused",
            detail={"rule_code": "not_supported", "action": action.value},
        )
    if f.method.recurring:
        # GMO PG 継続課金: the stored card is charged in the provider's monthly batch.
        return Local(Operation.LOCAL, Event.RECURRING_REGISTERED, {}, "継続課金 決済待ち")
    return _authorize_call(f, req)


def _awaiting_customer(f: OrderFacts) -> Conflict:
    words = "お支払い" if f.order.payment_slip else "認証(3Dセキュア・決済サービスでの承認)"
    return Conflict(
        f"お客様の{words}の完了待ちです。決済照会で結果を確認してください",
        code="awaiting_customer",
        detail={"redirect_url": f.order.redirect_url},
    )


def _reauthorize(f: OrderFacts, req: ActionRequest) -> Plan:
    provider, count = f.method.provider, f.order.authorization_count
    if not reauthorization_allowed(provider, count):
        limit = max_reauthorizations(provider)
        raise RuleRefused(
            f"再オーソリできません: {caps.PROVIDERS.get(provider, provider)}の再オーソリは"
            f"1件の受注につき{limit}回までです(この受注は{reauthorizations_done(count)}回"
            "再オーソリ済みです)。別の支払い方法への変更をお客様に依頼してください",
            code="rule_refused",
            detail={"rule_code": "reauthorization_limit", "limit": limit},
        )
    if f.status is S.PENDING:
        # Nothing live to drop (or just voided by this same 再オーソリ): authorize anew.
        return _authorize(f, req, Action.REAUTHORIZE)
    require_allowed(f.status, Action.REAUTHORIZE)
    if f.order.captured_at is not None:
        raise Conflict(
            f"決済状況「{f.status.label}」: 売上済みの受注は再オーソリできません",
            code="already_captured",
        )
    live = f.status not in NO_LIVE_TRANSACTION and not f.authorization_expired()
    if live and f.order.provider_transaction_id:
        # Drop the live authorization first, so the customer's credit is never held twice.
        return Call(
            Operation.VOID, f.order.provider_reference or f.order.number, f.order.authorized_amount
        )
    plan = _authorize_call(f, req)
    return Call(
        plan.operation,
        plan.reference,
        plan.amount,
        pre_event=Event.REAUTHORIZATION_STARTED,
        pre_fields={
            **plan.pre_fields,
            "provider_transaction_id": None,
            "authorized_at": None,
            "authorized_amount": None,
            "tracking_reported": False,  # the new transaction has had no slip sent
        },
        capture=plan.capture,
    )


def _authorize_call(f: OrderFacts, req: ActionRequest) -> Call:
    source = req.source if req.source is not None else dict(f.order.payment_source)
    capture = caps.captures_on_authorize(f.method.provider, f.method.method_type, f.flags)
    reference = _authorization_reference(f.order)
    return Call(
        Operation.AUTHORIZE_CAPTURE if capture else Operation.AUTHORIZE,
        reference,
        f.order.amount,
        pre_fields={"payment_source": source, "provider_reference": reference},
        capture=capture,
    )


def _shipment_fields(f: OrderFacts, req: ActionRequest) -> dict[str, object]:
    s = req.shipment
    fields: dict[str, object] = {}
    if s.shipped_on is not None:
        fields["shipped_on"] = s.shipped_on
    if s.tracking_number is not None:
        fields["tracking_number"] = s.tracking_number
    if s.carrier is not None:
        fields["carrier"] = s.carrier
    return fields


def _capture(f: OrderFacts, req: ActionRequest) -> Plan:
    shipment_fields = _shipment_fields(f, req)
    given = bool(shipment_fields)
    if f.order.captured_at is not None and f.status in (S.CAPTURED, S.MODIFY_FAILED):
        # 売上完了済み: never a second provider capture; the shipment is still recorded.
        if given:
            shipment_fields["shipment_count"] = f.order.shipment_count + 1
        return Local(
            Operation.CAPTURE,
            None,
            shipment_fields,
            "売上完了済みのため決済サービスへの売上処理は行いませんでした"
            + ("(発送情報を更新しました)" if given else ""),
        )
    require_allowed(f.status, Action.CAPTURE)
    if given:
        shipment_fields["shipment_count"] = f.order.shipment_count + 1
    if f.method.recurring:
        return Local(Operation.LOCAL, Event.RECURRING_SHIPPED, shipment_fields, "継続課金 配送完了")
    report: Shipment | None = None  # 後払い: the 出荷報告 that the capture sends
    if f.kind is caps.MethodKind.DEFERRED:
        shipped_on = req.shipment.shipped_on or f.order.shipped_on
        tracking = req.shipment.tracking_number or f.order.tracking_number
        missing = [
            label
            for label, value in (("発送完了日", shipped_on), ("配送伝票番号", tracking))
            if not value
        ]
        if missing or shipped_on is None or tracking is None:
            raise InvalidInput(
                f"後払いの売上処理(出荷報告)には{'と'.join(missing)}が必要です",
                code="shipment_required",
                detail={"missing": missing},
            )
        report = Shipment(shipped_on, tracking, req.shipment.carrier or f.order.carrier)
    if f.authorization_expired():
        # 後払い has a 与信期限 too (NP後払い 90日 …): its 出荷報告 fails like a card's 売上.
        days = f.authorization_days()
        return Refuse(
            RuleRefused(
                f"与信期限({days}日)を過ぎているため売上処理できません。再オーソリを実行してください",
                code="authorization_expired",
                detail={"authorization_days": days, "next_actions": [Action.REAUTHORIZE.value]},
            ),
            failure_event=Event.CAPTURE_FAILED if report is None else Event.SHIPMENT_REPORT_FAILED,
        )
    if report is not None:
        return Call(
            Operation.CAPTURE,
            f.order.provider_reference or f.order.number,
            f.order.amount,
            pre_fields={**shipment_fields, "tracking_reported": True},
            shipment=report,
        )
    shipment = None
    if req.shipment.shipped_on and req.shipment.tracking_number:
        shipment = Shipment(
            req.shipment.shipped_on, req.shipment.tracking_number, req.shipment.carrier
        )
    return Call(
        Operation.CAPTURE,
        f.order.provider_reference or f.order.number,
        f.order.amount,
        pre_fields=shipment_fields,
        shipment=shipment,
    )


def _cancel(f: OrderFacts) -> Plan:
    require_allowed(f.status, Action.CANCEL)
    # Awaiting 3-D Secure, the provider holds a transaction the customer may still complete.
    if f.status in NO_LIVE_TRANSACTION and not f.awaiting_customer:
        return Local(
            Operation.LOCAL, Event.CANCELED, {}, "決済サービスに有効な取引がないため連携せず取消"
        )
    decision = caps.can_cancel(f.context(), f.phase)
    if f.awaiting_customer and decision.code == caps.DecisionCode.MISSING_TIMESTAMP:
        # Not paid yet (a PayPay QR code, 3-D Secure): no 決済日時, so no window has begun;
        # the provider's pending transaction is withdrawn before the customer can pay it.
        decision = caps.Decision(caps.Verdict.LINK, caps.DecisionCode.OK, decision.rule)
    if decision.verdict is caps.Verdict.LOCAL:
        return Local(Operation.LOCAL, Event.CANCELED, {}, decision.rule)
    if decision.verdict is caps.Verdict.REFUSE:
        failure = Event.CANCEL_FAILED if decision.code == "window_expired" else None
        return Refuse(_refusal(decision, Action.CANCEL), failure_event=failure)
    return Call(
        Operation.CANCEL,
        f.order.provider_reference or f.order.number,
        f.order.amount,
    )


def _change_amount(f: OrderFacts, req: ActionRequest) -> Plan:
    if req.amount is None:
        raise InvalidInput("変更後の金額(amount)を指定してください", code="amount_required")
    tax = req.tax if req.tax is not None else f.order.tax
    validate_amount(f.method, req.amount, tax)
    if req.amount == f.order.amount and tax == f.order.tax:
        raise InvalidInput("金額が変わっていません", code="amount_unchanged")
    fields: dict[str, object] = {"amount": req.amount, "tax": tax}
    if f.awaiting_customer:
        raise _awaiting_customer(f)  # the customer is confirming the old amount right now
    if f.status in NO_LIVE_TRANSACTION and f.status is not S.CANCELED:
        # Nothing is held at the provider yet: the next authorization uses the new amount.
        return Local(Operation.LOCAL, None, fields, "決済前のため金額のみ変更")
    require_allowed(f.status, Action.CHANGE_AMOUNT)
    decision = caps.can_change_amount(f.context(new_amount=req.amount), f.phase)
    if decision.verdict is caps.Verdict.LOCAL:
        return Local(Operation.LOCAL, Event.AMOUNT_CHANGED, fields, decision.rule)
    if decision.verdict is caps.Verdict.REFUSE:
        failure = Event.AMOUNT_CHANGE_FAILED if decision.code == "window_expired" else None
        return Refuse(_refusal(decision, Action.CHANGE_AMOUNT), failure_event=failure)
    return Call(
        Operation.CHANGE_AMOUNT,
        f.order.provider_reference or f.order.number,
        req.amount,
        new_tax=tax,
    )
