"""Which actions an order offers now, and why the others are refused: the one answer the
API's `allowed_actions` and the admin's buttons both give.

Each action is decided as the engine would decide it (status table, then seed 003's rules
through `decide`), on a probe request, without writing anything. A refusal carries the
rule's own words; an offered action says what would be sent to the provider.
"""

from dataclasses import dataclass

from kessai.core.clock import to_tokyo
from kessai.core.errors import Conflict, InvalidInput
from kessai.payments.decide import OrderFacts, decide
from kessai.payments.plans import OPERATION_LABELS, ActionRequest, Call, Local, ShipmentInput
from kessai.payments.status import Action, PaymentStatus, allows, require_allowed

S = PaymentStatus


@dataclass(frozen=True)
class Offer:
    action: Action
    allowed: bool
    reason: str | None = None  # why it is refused, in the rule's words
    operation: str | None = None  # the provider call it makes (plans.Operation), if any
    reference: str | None = None  # the reference sent to the provider
    amount: int | None = None  # the amount sent (the probe's, for 金額変更)
    note: str | None = None  # a change kessai makes alone: what it does

    @property
    def sends(self) -> str | None:
        """What goes to the provider, as the confirmation names it; None: nothing is sent."""
        if self.operation is None:
            return None
        label = OPERATION_LABELS.get(self.operation, self.operation)
        amount = "" if self.amount is None else f"、金額 {self.amount:,}円"
        return f"{label}(取引 {self.reference}{amount})"


def _probe(f: OrderFacts, action: Action) -> ActionRequest:
    """A request that carries whatever input the action needs, so only rules can refuse."""
    o = f.order
    if action is Action.CAPTURE:
        shipment = ShipmentInput(
            o.shipped_on or to_tokyo(f.now).date(), o.tracking_number or "-", o.carrier
        )
        return ActionRequest(action=action.value, actor="offer", shipment=shipment)
    if action is Action.CHANGE_AMOUNT:
        # A decrease: "減額のみ可能" rows must still offer the change.
        amount = o.amount - 1 if o.amount - 1 >= f.method.min_amount else o.amount + 1
        return ActionRequest(action=action.value, actor="offer", amount=amount)
    return ActionRequest(action=action.value, actor="offer")


def _reconcile(f: OrderFacts) -> Offer:
    o = f.order
    live = (
        o.in_flight_attempt_id is not None
        or f.status is S.CREDIT_CHECK_PENDING
        or f.awaiting_customer
    )
    if live:
        return Offer(Action.RECONCILE, True, operation="lookup", reference=o.provider_reference)
    return Offer(Action.RECONCILE, False, reason="照会が必要な決済はありません")


def offer(f: OrderFacts, action: Action) -> Offer:
    if action is Action.RECONCILE:
        return _reconcile(f)
    try:
        # A second 売上処理 on a 売上完了 order only records the shipment (seed 004: never a
        # second capture); it is not offered as one. `decide` checks the table otherwise.
        if action is Action.CAPTURE and not allows(f.status, action):
            require_allowed(f.status, action)
        plan = decide(f, _probe(f, action))
    except Conflict as exc:
        return Offer(action, False, reason=exc.message)
    except InvalidInput:
        return Offer(action, True)  # only the operator's input is missing
    if isinstance(plan, Call):
        return Offer(
            action, True, operation=plan.operation, reference=plan.reference, amount=plan.amount
        )
    if isinstance(plan, Local):
        return Offer(action, True, note=plan.note)
    return Offer(action, False, reason=plan.error.message)


def offers(f: OrderFacts) -> list[Offer]:
    """Every action, in the order of `Action`, offered or refused."""
    return [offer(f, action) for action in Action]


def allowed_actions(f: OrderFacts) -> list[str]:
    return [o.action.value for o in offers(f) if o.allowed]
