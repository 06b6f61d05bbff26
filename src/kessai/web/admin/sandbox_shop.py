"""試験購入: in sandbox mode, a small storefront where a tester buys with any enabled payment
method and then follows the order into the admin.

A card goes card number → the provider's token (in the browser, with the GMO simulator's
token.js: the number never reaches kessai) → 受注 → オーソリ; a 3-D Secure challenge sends
the browser to the simulator's challenge page and back to /admin/sandbox/return, which asks
the provider for the outcome (決済照会). Methods on the simulated connector take a scenario
instead (成功, 与信審査, 3Dセキュア, エラー …), so a wallet approval or a 後払い credit check can
be tried the same way. Production answers 404 for all of it.
"""

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy import select

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.core.clock import to_tokyo
from kessai.core.db import transaction
from kessai.core.errors import InvalidInput, KessaiError
from kessai.orders.models import Order
from kessai.orders.schemas import MAX_ID, CustomerIn, OrderCreate
from kessai.orders.service import create_order, get_order_view
from kessai.payments import capabilities as caps
from kessai.payments.plans import ActionRequest
from kessai.payments.status import Action, PaymentStatus
from kessai.providers.fake.connector import Scenario
from kessai.users.service import Permission, Principal
from kessai.web.admin import inputs
from kessai.web.admin.core import AdminContext, AdminError, read_form, redirect, render
from kessai.web.admin.order_detail import FLASH_BY_OUTCOME
from kessai.web.admin.orders import label_of, yen

SCENARIOS = {
    Scenario.SUCCEED: "成功",
    Scenario.CHALLENGE: "3Dセキュア認証・ウォレットの承認画面を経由",
    Scenario.PENDING: "与信審査中 → 与信審査完了",
    Scenario.PENDING_REJECT: "与信審査中 → 与信審査エラー",
    Scenario.DECLINE: "エラー(カード利用不可・与信NG)",
    Scenario.UNKNOWN: "応答なし(結果不明)",
}
GMO_SIM_PATH = "/sim/gmo-pg"


def _require_sandbox(ctx: AdminContext) -> None:
    if not ctx.services.settings.sandbox:
        raise AdminError(404, "見つかりませんでした", "試験購入はサンドボックス環境でのみ使えます")


def _tokenized(account: ProviderAccount | None) -> bool:
    """Card payments through the real GMO PG connector: the browser fetches a token first."""
    return account is not None and account.connector == "gmo_pg"


def add_sandbox_shop_routes(router: APIRouter, ctx: AdminContext) -> None:
    operate = Permission.ORDERS_OPERATE

    @router.get("/sandbox/shop", summary="試験購入")
    async def shop(
        request: Request, _: Annotated[Principal, Depends(ctx.require(operate))]
    ) -> Response:
        _require_sandbox(ctx)
        async with transaction(ctx.services.sessions) as s:
            rows = (
                await s.execute(
                    select(PaymentMethod, ProviderAccount)
                    .outerjoin(ProviderAccount, ProviderAccount.id == PaymentMethod.account_id)
                    .where(PaymentMethod.enabled.is_(True), PaymentMethod.recurring.is_(False))
                    .order_by(PaymentMethod.id)
                )
            ).all()
        methods = []
        for method, account in rows:
            try:
                kind = caps.row(method.provider, method.method_type).kind
            except caps.UnknownMethod:
                continue
            methods.append(
                {
                    "code": method.code,
                    "name": method.name,
                    "account": account.name if account else "",
                    "card": kind is caps.MethodKind.CARD,
                    "tokenized": _tokenized(account) and kind is caps.MethodKind.CARD,
                    "shop_id": (account.settings or {}).get("shop_id", "") if account else "",
                }
            )
        return render(
            request,
            "sandbox_shop.html",
            {
                "nav": "sandbox",
                "methods": methods,
                "scenarios": [(s.value, label) for s, label in SCENARIOS.items()],
                "token_js": f"{GMO_SIM_PATH}/ext/js/token.js",
            },
        )

    @router.post("/sandbox/shop", summary="試験購入を実行")
    async def purchase(
        request: Request,
        principal: Annotated[Principal, Depends(ctx.require(operate, csrf=True))],
    ) -> Response:
        _require_sandbox(ctx)
        form = await read_form(request)
        code = inputs.text(form, "payment_method", "支払い方法", 60)
        amount = inputs.yen(form, "amount", "金額")
        if not amount:
            raise InvalidInput("金額は1円以上の整数で入力してください", code="invalid_amount")
        name = inputs.text(form, "customer_name", "お名前", 100) or "試験 購入者"
        email = inputs.text(form, "customer_email", "メールアドレス") or None
        token = inputs.text(form, "token", "トークン", 200)
        scenario = inputs.text(form, "scenario", "シナリオ", 40)
        now = ctx.services.clock.now()
        number = f"SB{to_tokyo(now):%Y%m%d%H%M%S}{secrets.randbelow(10_000):04d}"
        async with transaction(ctx.services.sessions) as s:
            row = (
                await s.execute(
                    select(PaymentMethod, ProviderAccount)
                    .outerjoin(ProviderAccount, ProviderAccount.id == PaymentMethod.account_id)
                    .where(PaymentMethod.code == code)
                )
            ).one_or_none()
            if row is None:
                raise InvalidInput("支払い方法を選択してください", code="unknown_payment_method")
            method, account = row
            source: dict[str, str] = {}
            if _tokenized(account):
                if not token:
                    raise InvalidInput(
                        "カードのトークンを取得できませんでした。カード番号を確認してください",
                        code="token_required",
                    )
                source["token"] = token
                if form.get("tds2") == "1":
                    base = str(request.base_url).rstrip("/")
                    source["tds2"] = "1"
                    source["tds2_return_url"] = f"{base}/admin/sandbox/return?number={number}"
            else:
                source["token"] = f"tok_sandbox_{secrets.token_hex(6)}"
            order = await create_order(
                s,
                OrderCreate(
                    number=number,
                    customer=CustomerIn(name=name, email=email),
                    payment_method=method.code,
                    amount=amount,
                    tax=amount * 10 // 110,
                    payment_source=source,
                ),
                now,
            )
            order_id = order.id
        options = {}
        if not _tokenized(account) and scenario in {s.value for s in SCENARIOS}:
            options["scenario"] = scenario
        req = ActionRequest(action=Action.AUTHORIZE.value, actor=principal.actor, options=options)
        try:
            result = await ctx.services.payments.run(order_id, req)
        except KessaiError as exc:
            raise AdminError(exc.status_code, "オーソリできませんでした", exc.message) from exc
        if result.outcome == "pending" and result.redirect_url:
            if result.redirect_url.startswith("/sim/fake/"):
                # The simulated connector's page knows no way back: show kessai's own.
                return redirect(f"/admin/sandbox/approve?number={number}")
            return redirect(result.redirect_url)  # the provider's challenge page
        return redirect(
            f"/admin/sandbox/orders/{order_id}",
            flash=FLASH_BY_OUTCOME.get(result.outcome, "action_succeeded"),
        )

    @router.get("/sandbox/approve", summary="承認画面(擬似)")
    async def approve(
        request: Request,
        _: Annotated[Principal, Depends(ctx.require(operate))],
        number: Annotated[str, Query(max_length=40)] = "",
    ) -> Response:
        _require_sandbox(ctx)
        return render(request, "sandbox_approve.html", {"nav": "sandbox", "number": number})

    @router.get("/sandbox/return", summary="3Dセキュア認証後の戻り先")
    async def back_from_challenge(
        principal: Annotated[Principal, Depends(ctx.require(operate))],
        number: Annotated[str, Query(max_length=40)] = "",
    ) -> Response:
        _require_sandbox(ctx)
        async with transaction(ctx.services.sessions) as s:
            order_id = await s.scalar(select(Order.id).where(Order.number == number))
        if order_id is None:
            raise AdminError(404, "見つかりませんでした", f"受注「{number}」はありません")
        # Back from the provider: ask it for the outcome (決済照会), as a storefront would.
        req = ActionRequest(action=Action.RECONCILE.value, actor=principal.actor)
        result = await ctx.services.payments.run(order_id, req)
        return redirect(
            f"/admin/sandbox/orders/{order_id}",
            flash=FLASH_BY_OUTCOME.get(result.outcome, "action_succeeded"),
        )

    @router.get("/sandbox/orders/{order_id}", summary="試験購入の結果")
    async def purchased(
        request: Request,
        order_id: Annotated[int, Path(ge=1, le=MAX_ID)],
        _: Annotated[Principal, Depends(ctx.require(operate))],
    ) -> Response:
        _require_sandbox(ctx)
        async with transaction(ctx.services.sessions) as s:
            view = await get_order_view(s, order_id)
        o = view.order
        return render(
            request,
            "sandbox_result.html",
            {
                "nav": "sandbox",
                "order": o,
                "method": view.method.name,
                "amount": yen(o.amount),
                "status": o.payment_status,
                "status_label": label_of(PaymentStatus, o.payment_status),
                "waiting": o.payment_status == PaymentStatus.CREDIT_CHECK_PENDING.value
                or o.in_flight_attempt_id is not None,
            },
        )
