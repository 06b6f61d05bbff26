"""受注管理: the order search (conditions the operator chooses to show), paging, and
決済状況一括変更 on the chosen orders or on every result of the search."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import func, select

from kessai.accounts.models import PaymentMethod
from kessai.core.clock import to_tokyo
from kessai.core.db import transaction
from kessai.core.errors import InvalidInput
from kessai.customers.models import Customer
from kessai.customers.updater import NOT_CHECKED, NOT_CHECKED_LABEL, UpdaterResult
from kessai.orders.models import Order
from kessai.orders.schemas import MAX_ID
from kessai.orders.search import search_moment
from kessai.orders.service import OrderSearch, search_conditions
from kessai.payments.bulk import kind as _bulk_kind  # noqa: F401 - registers the job kind
from kessai.payments.bulk.actions import BULK_ACTIONS, parse_action, require_permitted
from kessai.payments.bulk.schemas import OrderFilter
from kessai.payments.bulk.service import bulk_params, submit_bulk
from kessai.payments.deadlines import DeadlineKind, closing_soon, stuck_in_shipment_report
from kessai.payments.status import HandlingStatus, PaymentStatus, ReauthorizationLabel
from kessai.users.service import Permission, Principal
from kessai.web.admin import inputs
from kessai.web.admin.core import AdminContext, read_form, redirect, render, set_cookie
from kessai.web.admin.jobs import SUBMISSION_FIELD, dedupe_key, submission_token

PAGE_SIZE = 100
# ダッシュボード's lines that no search condition expresses: what they list.
DUE = {
    "reconcile": "決済結果不明(要照会)の受注",
    "stuck": "出荷報告依頼中のまま1日以上の受注",
    "cancel": "取消期限が近い受注",
    "authorization": "与信期限が近い受注",
}
FIELDS_COOKIE = "kessai_admin_order_fields"

# 検索条件: key (the query parameter, as the API names it) and the operators' word.
CONDITIONS: dict[str, str] = {
    "ordered": "注文日時",
    "number": "注文番号",
    "payment_status": "決済状況",
    "payment_method": "支払い方法",
    "handling_status": "対応状況",
    "subscription": "定期",
    "updater_result": "洗替ステータス",
    "label": "ラベル",
}
DEFAULT_CONDITIONS = ("ordered", "number", "payment_status", "payment_method", "handling_status")
# The filter values an order search takes (the form's names = OrderFilter's names).
FILTER_NAMES = (
    "ordered_from",
    "ordered_to",
    "number",
    "payment_status",
    "payment_method",
    "handling_status",
    "subscription",
    "updater_result",
    "label",
)


def yen(amount: int) -> str:
    return f"{amount:,}円"


def label_of(enum: Any, code: str | None) -> str:
    if code is None:
        return ""
    try:
        return str(enum(code).label)
    except ValueError:  # a code a newer version wrote: show it rather than fail
        return code


@dataclass(frozen=True)
class OrderRow:
    id: int
    number: str
    ordered_at: str
    customer: str
    method: str
    amount: str
    payment_status: str
    payment_status_label: str
    handling_status_label: str
    subscription_id: int | None
    label: str


@dataclass
class Filters:
    """The search as the form shows it, and as OrderSearch runs it."""

    values: dict[str, str]
    search: OrderSearch
    errors: list[str]

    def as_filter(self) -> OrderFilter:
        v = {k: x for k, x in self.values.items() if x}
        sub = v.pop("subscription", None)
        return OrderFilter(**v, subscription=None if sub is None else sub == "1")


def read_filters(params: Mapping[str, Any]) -> Filters:
    """Reads the conditions; a bad one is named and dropped, never a 500."""
    values: dict[str, str] = {}
    for name in FILTER_NAMES:
        raw = params.get(name)
        values[name] = raw.strip()[:40] if isinstance(raw, str) else ""
    errors: list[str] = []
    moments = {}
    for name, end in (("ordered_from", False), ("ordered_to", True)):
        try:
            moments[name] = search_moment(name, values[name], end=end)
        except InvalidInput:
            errors.append(f"注文日時は YYYY/MM/DD で入力してください({values[name]})")
            values[name] = ""
            moments[name] = None
    if values["subscription"] not in ("", "1", "0"):
        values["subscription"] = ""
    search = OrderSearch(
        payment_status=values["payment_status"] or None,
        ordered_from=moments["ordered_from"],
        ordered_to=moments["ordered_to"],
        number=values["number"] or None,
        payment_method=values["payment_method"] or None,
        handling_status=values["handling_status"] or None,
        subscription=None if not values["subscription"] else values["subscription"] == "1",
        updater_result=values["updater_result"] or None,
        label=values["label"] or None,
    )
    try:
        search_conditions(search)
    except InvalidInput as exc:  # an unknown status or label typed into the URL
        errors.append(exc.message)
        for name in ("payment_status", "handling_status", "updater_result", "label"):
            values[name] = ""
        search = OrderSearch(
            ordered_from=search.ordered_from,
            ordered_to=search.ordered_to,
            number=search.number,
            payment_method=search.payment_method,
            subscription=search.subscription,
        )
    for name in ("ordered_from", "ordered_to"):
        moment = moments[name]
        values[name] = to_tokyo(moment).strftime("%Y/%m/%d") if moment else ""
    return Filters(values, search, errors)


def shown_conditions(request: Request, filters: Filters) -> list[str]:
    """The conditions the operator chose to show, plus any in use."""
    raw = request.cookies.get(FIELDS_COOKIE)
    chosen = [k for k in raw.split(",") if k in CONDITIONS] if raw else list(DEFAULT_CONDITIONS)
    used = {("ordered" if n.startswith("ordered_") else n) for n, v in filters.values.items() if v}
    return [k for k in CONDITIONS if k in chosen or k in used]


def _choices() -> dict[str, list[tuple[str, str]]]:
    return {
        "payment_status": [(s.value, s.label) for s in PaymentStatus],
        "handling_status": [(s.value, s.label) for s in HandlingStatus],
        "updater_result": [(r.value, r.label) for r in UpdaterResult]
        + [(NOT_CHECKED, NOT_CHECKED_LABEL)],
        "label": [(r.value, r.label) for r in ReauthorizationLabel],
    }


def add_order_routes(router: APIRouter, ctx: AdminContext) -> None:
    @router.get("/orders", summary="受注管理")
    async def orders(
        request: Request,
        principal: Annotated[Principal, Depends(ctx.require(Permission.ORDERS_VIEW))],
    ) -> Response:
        filters = read_filters(request.query_params)
        page = inputs.page(request.query_params)
        conds: list[Any] = list(search_conditions(filters.search))
        raw_due = request.query_params.get("due", "")
        due = raw_due if raw_due in DUE else None
        raw_days = request.query_params.get("days", "")
        days = int(raw_days) if raw_days.isdigit() and 1 <= int(raw_days) <= 60 else 7
        async with transaction(ctx.services.sessions) as s:
            if due == "reconcile":
                conds.append(Order.in_flight_attempt_id.is_not(None))
            elif due == "stuck":
                conds += stuck_in_shipment_report(ctx.services.clock.now())
            elif due is not None:
                kind = DeadlineKind(due)
                closing = await closing_soon(
                    s, ctx.services.clock.now(), timedelta(days=days), kind
                )
                conds.append(Order.id.in_([c.order_id for c in closing]))
        joined = (
            select(Order, PaymentMethod.name, Customer.name)
            .join(PaymentMethod, PaymentMethod.id == Order.payment_method_id)
            .join(Customer, Customer.id == Order.customer_id)
            .where(*conds)
        )
        async with transaction(ctx.services.sessions) as s:
            found = (
                await s.execute(
                    joined.order_by(Order.ordered_at.desc(), Order.id.desc())
                    .limit(PAGE_SIZE)
                    .offset((page - 1) * PAGE_SIZE)
                )
            ).all()
            total = int(
                await s.scalar(
                    select(func.count())
                    .select_from(Order)
                    .join(PaymentMethod, PaymentMethod.id == Order.payment_method_id)
                    .where(*conds)
                )
                or 0
            )
            methods = (
                await s.execute(
                    select(PaymentMethod.code, PaymentMethod.name).order_by(PaymentMethod.id)
                )
            ).all()
        rows = [
            OrderRow(
                id=order.id,
                number=order.number,
                ordered_at=to_tokyo(order.ordered_at).strftime("%Y/%m/%d %H:%M"),
                customer=customer,
                method=method_name,
                amount=yen(order.amount),
                payment_status=order.payment_status,
                payment_status_label=label_of(PaymentStatus, order.payment_status),
                handling_status_label=label_of(HandlingStatus, order.handling_status),
                subscription_id=order.subscription_id,
                label=label_of(ReauthorizationLabel, order.reauthorization_label),
            )
            for order, method_name, customer in found
        ]
        query: dict[str, Any] = {k: v for k, v in filters.values.items() if v}
        if due is not None:
            query.update(due=due, days=days)
        pages = max(1, -(-total // PAGE_SIZE))
        return render(
            request,
            "orders.html",
            {
                "nav": "orders",
                "rows": rows,
                "filters": filters.values,
                "errors": filters.errors,
                "choices": _choices(),
                "methods": [(code, name) for code, name in methods],
                "conditions": CONDITIONS,
                "shown": shown_conditions(request, filters),
                "query": query,
                "page": page,
                "pages": pages,
                "first": (page - 1) * PAGE_SIZE + 1 if rows else 0,
                "last": (page - 1) * PAGE_SIZE + len(rows),
                "total": total,
                "bulk_actions": [
                    (b.action.value, b.label)
                    for b in BULK_ACTIONS.values()
                    if principal.can(b.permission)
                ],
                "submission_field": SUBMISSION_FIELD,
                "submission": submission_token(),
                "due": DUE[due].replace("近い", f"{days}日以内の") if due else "",
            },
        )

    @router.post("/orders/conditions", summary="検索条件項目を編集")
    async def edit_conditions(
        request: Request,
        _: Annotated[Principal, Depends(ctx.require(Permission.ORDERS_VIEW, csrf=True))],
    ) -> Response:
        form = await read_form(request)
        chosen = [k for k in CONDITIONS if k in form.getlist("show")]
        response = redirect("/admin/orders")
        set_cookie(
            response, request, ctx.services, FIELDS_COOKIE, ",".join(chosen), 365 * 24 * 3600
        )
        return response

    @router.post("/orders/bulk-payment-actions", summary="決済状況一括変更")
    async def bulk_payment_action(
        request: Request,
        principal: Annotated[Principal, Depends(ctx.require(Permission.ORDERS_VIEW, csrf=True))],
    ) -> Response:
        form = await read_form(request)
        raw = form.get("action")
        bulk = parse_action(raw) if isinstance(raw, str) and raw else None
        if bulk is None:
            raise InvalidInput(
                "決済状況一括変更の処理を選択してください", code="bulk_action_required"
            )
        # Each operation its own permission: a role without 強制売上処理 cannot run it.
        require_permitted([bulk], principal.can, principal.role.label)
        if form.get("all_results") == "1":
            filters = read_filters(form)
            if filters.errors:
                raise InvalidInput(filters.errors[0], code="invalid_search")
            params = bulk_params(bulk, order_ids=None, search=filters.as_filter())
        else:
            picked = [
                v
                for v in form.getlist("order_ids")
                if isinstance(v, str) and v.isdigit() and 1 <= int(v) <= MAX_ID
            ]
            if not picked:
                raise InvalidInput(
                    "処理対象の受注を選択するか、「検索結果すべてを処理対象にする」を選んでください",
                    code="bulk_target_required",
                )
            params = bulk_params(bulk, order_ids=[int(v) for v in picked], search=None)
        job, _ = await submit_bulk(
            ctx.services,
            bulk,
            params,
            actor=principal.actor,
            dedupe_key=dedupe_key(principal, form, "bulk"),
        )
        return redirect(f"/admin/jobs/{job.id}")
