"""受注 as the API shows it."""

from datetime import datetime

from kessai.orders.schemas import CustomerOut, OrderOut, PaymentMethodRef
from kessai.orders.service import OrderView, authorization_expires_at
from kessai.payments.decide import OrderFacts
from kessai.payments.offers import allowed_actions
from kessai.payments.status import HandlingStatus, PaymentStatus, ReauthorizationLabel


def order_out(view: OrderView, now: datetime) -> OrderOut:
    """The order; `allowed_actions` as of `now` (seed 003's windows depend on it)."""
    o, c, m = view.order, view.customer, view.method
    return OrderOut(
        id=o.id,
        number=o.number,
        customer=CustomerOut(id=c.id, name=c.name, email=c.email),
        payment_method=PaymentMethodRef(
            code=m.code, name=m.name, provider=m.provider, method_type=m.method_type
        ),
        amount=o.amount,
        tax=o.tax,
        payment_status=o.payment_status,
        payment_status_label=PaymentStatus(o.payment_status).label,
        handling_status=o.handling_status,
        handling_status_label=HandlingStatus(o.handling_status).label,
        ordered_at=o.ordered_at,
        subscription_id=o.subscription_id,
        shipped_on=o.shipped_on,
        tracking_number=o.tracking_number,
        carrier=o.carrier,
        shipment_count=o.shipment_count,
        provider_reference=o.provider_reference,
        provider_transaction_id=o.provider_transaction_id,
        authorized_at=o.authorized_at,
        authorization_expires_at=authorization_expires_at(view),
        captured_at=o.captured_at,
        redirect_url=o.redirect_url,
        payment_slip=o.payment_slip,
        payment_due_at=o.payment_due_at,
        needs_reconcile=o.in_flight_attempt_id is not None,
        allowed_actions=allowed_actions(OrderFacts(o, m, view.account, now)),
        reauthorization_label=o.reauthorization_label,
        reauthorization_label_text=None
        if o.reauthorization_label is None
        else ReauthorizationLabel(o.reauthorization_label).label,
        created_at=o.created_at,
        updated_at=o.updated_at,
    )
