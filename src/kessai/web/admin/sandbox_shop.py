"""試験購入: in sandbox mode, a small storefront where a tester buys with any enabled payment
method and then follows the order into the admin.

Everything provider-specific comes from the provider's declaration (providers/*/provider.py,
read through kessai.providers.installed and kessai.providers.sandboxes):
- a card whose provider declares a browser token script goes card number → the provider's
  token (in the browser: the number never reaches kessai) → 受注 → オーソリ; a 3-D Secure
  challenge sends the browser to the simulator's challenge page and back to
  /admin/sandbox/return, which asks the provider for the outcome (決済照会);
- a wallet or キャリア決済 can go to the provider's own approval page (PayPay's customer page,
  GMO's redirect page: approve, cancel or let it expire) and back the same way;
- the declared test inputs of the provider's sandbox method make its other scenarios
  (NP後払い's credit check: 00, 10 保留, 20 NG by test amount; a declined test card …);
- the simulated connector takes its scenarios as options.
Production answers 404 for all of it.
"""

import secrets
from typing import Annotated
from urllib.parse import quote

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
from kessai.payments.models import PaymentAttempt
from kessai.payments.plans import ActionRequest
from kessai.payments.status import Action, PaymentStatus
from kessai.providers import sandboxes
from kessai.providers.installed import BY_NAME
from kessai.providers.kit import Provider
from kessai.users.service import Permission, Principal
from kessai.web.admin import inputs
from kessai.web.admin.core import AdminContext, AdminError, read_form, redirect, render
from kessai.web.admin.order_detail import FLASH_BY_OUTCOME
from kessai.web.admin.orders import label_of, yen

PAGE_KINDS = (caps.MethodKind.WALLET, caps.MethodKind.CARRIER)


def _require_sandbox(ctx: AdminContext) -> None:
    if not ctx.services.settings.sandbox:
        raise AdminError(404, "見つかりませんでした", "試験購入はサンドボックス環境でのみ使えます")


def _provider(account: ProviderAccount | None) -> Provider | None:
    return BY_NAME.get(account.connector) if account is not None else None


def _tokenized(account: ProviderAccount | None, kind: caps.MethodKind) -> bool:
    """A card whose provider's browser turns the number into a token (GMO's token.js)."""
    provider = _provider(account)
    return kind is caps.MethodKind.CARD and provider is not None and bool(provider.card_script)


def _choices(
    method: PaymentMethod, account: ProviderAccount | None, kind: caps.MethodKind
) -> list[sandboxes.Choice]:
    if _tokenized(account, kind):
        return []  # the typed test card picks the outcome
    return sandboxes.choices(
        _provider(account), (method.provider, method.method_type), page=kind in PAGE_KINDS
    )


def _kind(method: PaymentMethod) -> caps.MethodKind | None:
    try:
        return caps.row(method.provider, method.method_type).kind
    except caps.UnknownMethod:
        return None


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
        token_js = ""
        for method, account in rows:
            kind = _kind(method)
            if kind is None:
                continue
            tokenized = _tokenized(account, kind)
            provider = _provider(account)
            if tokenized and provider is not None and not token_js:
                token_js = f"/sim/{provider.sim_path}/{provider.card_script}"
            methods.append(
                {
                    "code": method.code,
                    "name": method.name,
                    "account": account.name if account else "",
                    "tokenized": tokenized,
                    "shop_id": (account.settings or {}).get("shop_id", "") if account else "",
                    "scenarios": [(c.name, c.label) for c in _choices(method, account, kind)],
                }
            )
        return render(
            request,
            "sandbox_shop.html",
            {"nav": "sandbox", "methods": methods, "token_js": token_js},
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
        if row is None or (kind := _kind(row[0])) is None:
            raise InvalidInput("支払い方法を選択してください", code="unknown_payment_method")
        method, account = row
        base = str(request.base_url).rstrip("/")
        back = f"{base}/admin/sandbox/return?number={number}"
        source: dict[str, str] = {}
        options: dict[str, str] = {}
        if _tokenized(account, kind):
            if not token:
                raise InvalidInput(
                    "カードのトークンを取得できませんでした。カード番号を確認してください",
                    code="token_required",
                )
            source["token"] = token
            if form.get("tds2") == "1":
                source["tds2"] = "1"
                source["tds2_return_url"] = back
        else:
            offered = {c.name: c for c in _choices(method, account, kind)}
            choice = offered.get(scenario) or next(iter(offered.values()), None)
            provider = _provider(account)
            if choice is not None and choice.option is not None:
                options["scenario"] = choice.option
                source["token"] = f"tok_sandbox_{secrets.token_hex(6)}"
            elif choice is not None and choice.given is not None and provider is not None:
                amount = sandboxes.amount_for(provider, choice.given, amount)
                try:
                    source = await sandboxes.source_for(provider, base, choice.given, amount)
                except Exception as exc:  # the simulator's own page or token endpoint failed
                    raise AdminError(
                        502, "決済サービスのテスト環境に接続できませんでした", str(exc)
                    ) from exc
            if kind in PAGE_KINDS:
                source["return_url"] = back  # where the provider's page sends the customer
        async with transaction(ctx.services.sessions) as s:
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
        req = ActionRequest(action=Action.AUTHORIZE.value, actor=principal.actor, options=options)
        try:
            result = await ctx.services.payments.run(order_id, req)
        except KessaiError as exc:
            raise AdminError(exc.status_code, "オーソリできませんでした", exc.message) from exc
        if result.outcome == "pending" and result.redirect_url:
            url = result.redirect_url
            if url.startswith("/sim/fake/"):
                # The simulated connector's page knows no way back: show kessai's own.
                return redirect(f"/admin/sandbox/approve?number={number}")
            if kind in PAGE_KINDS:
                # The provider's page: opened beside the shop, which waits for the customer.
                return redirect(f"/admin/sandbox/approve?number={number}&url={quote(url, safe='')}")
            return redirect(url)  # the issuer's 3-D Secure challenge page
        return redirect(
            f"/admin/sandbox/orders/{order_id}",
            flash=FLASH_BY_OUTCOME.get(result.outcome, "action_succeeded"),
        )

    @router.get("/sandbox/approve", summary="承認画面")
    async def approve(
        request: Request,
        _: Annotated[Principal, Depends(ctx.require(operate))],
        number: Annotated[str, Query(max_length=40)] = "",
        url: Annotated[str, Query(max_length=2000)] = "",
    ) -> Response:
        _require_sandbox(ctx)
        # Only a simulator's page of this sandbox is linked (never an arbitrary address).
        base = str(request.base_url).rstrip("/")
        page = url if url.startswith((f"{base}/sim/", "/sim/")) else ""
        return render(
            request, "sandbox_approve.html", {"nav": "sandbox", "number": number, "page": page}
        )

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
            # The provider's last answer, verbatim as 決済履歴 shows it (NP's 保留理由 …).
            last = await s.scalar(
                select(PaymentAttempt)
                .where(PaymentAttempt.order_id == order_id)
                .order_by(PaymentAttempt.id.desc())
                .limit(1)
            )
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
                "provider_code": last.provider_code if last else None,
                "provider_message": last.provider_message if last else None,
                "waiting": o.payment_status == PaymentStatus.CREDIT_CHECK_PENDING.value
                or o.in_flight_attempt_id is not None,
            },
        )
