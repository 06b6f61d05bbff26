"""The connector's side of GMO's redirect methods (PayPay, d払い, 楽天ペイ … see methods.py).

authorize: EntryTran<X>, whose AccessID/AccessPass are stored (with the method) before
ExecTran<X>, then PENDING with the URL the storefront sends the customer to; the order stays
決済準備中. Once the customer is back (or GMO's 結果通知 came), complete_challenge asks
SearchTradeMulti: AUTH → 仮売上, CAPTURE/SALES → 売上, still at the wallet → still pending,
PAYFAIL/EXPIRED/CANCEL → declined with GMO's status. capture: <X>Sales; cancel: <X>Cancel…
with CancelAmount; lookup: SearchTradeMulti with the method's PayType.
"""

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from kessai.providers.contract import (
    AuthorizeRequest,
    DeclineStage,
    Lookup,
    Outcome,
    OutcomeKind,
    ProviderState,
    Transaction,
    not_sent,
    refused,
)
from kessai.providers.gmo_pg import errors
from kessai.providers.gmo_pg.entry import ConnectorParts
from kessai.providers.gmo_pg.http import Reply
from kessai.providers.gmo_pg.methods import BY_KEY, RedirectMethod, SlipMethod
from kessai.providers.transport import TransportError
from kessai.providers.vault import ProviderError, ProviderUnreachable

NOT_FOUND_MULTI = "M01004002"
# SearchTradeMulti Status of a redirect method → what kessai holds (GMO's status list:
# UNPROCESSED 未決済, REQSUCCESS 要求成功 (the customer has not approved yet), AUTHPROCESS
# 承認処理中, AUTH 仮売上, CAPTURE 即時売上, SALES 実売上, CANCEL キャンセル, RETURN 返品,
# PAYFAIL 決済失敗, EXPIRED 期限切れ).
MULTI_STATES: dict[str, ProviderState] = {
    "UNPROCESSED": ProviderState.NONE,
    "REQSUCCESS": ProviderState.PENDING,
    "AUTHPROCESS": ProviderState.PENDING,
    "AUTH": ProviderState.AUTHORIZED,
    "CAPTURE": ProviderState.CAPTURED,
    "SALES": ProviderState.CAPTURED,
    "CANCEL": ProviderState.CANCELED,
    "RETURN": ProviderState.CANCELED,
    "VOID": ProviderState.CANCELED,
    "PAYFAIL": ProviderState.DECLINED,
    "EXPIRED": ProviderState.DECLINED,
    # コンビニ・Pay-easy・銀行振込: TRADING 取引中 (銀行振込 waiting), PAYSUCCESS 入金済み
    # (the money is in: a sale), STOP 取引停止.
    "TRADING": ProviderState.PENDING,
    "PAYSUCCESS": ProviderState.CAPTURED,
    "STOP": ProviderState.CANCELED,
}
CUSTOMER_WORDS = {
    "PAYFAIL": "お客様の決済が完了しませんでした (決済失敗)",
    "EXPIRED": "お客様が支払期限までに決済を完了しませんでした (期限切れ)",
    "CANCEL": "決済はキャンセルされています",
}
DEFAULT_ITEM = "ご注文商品"


class RedirectMixin(ConnectorParts):
    """GMO's redirect methods, for GmoPgConnector."""

    async def _redirect_of(self, ref: str) -> tuple[RedirectMethod, dict[str, Any]] | None:
        stored = await self.store.get(ref) or {}
        method = BY_KEY.get(str(stored.get("pay_method") or ""))
        return None if method is None else (method, stored)

    # ------------------------------------------------------------------ authorize
    async def _redirect_authorize(self, request: AuthorizeRequest, m: RedirectMethod) -> Outcome:
        ref = request.reference
        return_url = request.source.get("return_url") or self.config.tds2_return_url
        if not return_url:
            return refused(
                "return_url_missing",
                f"{m.name}の決済後にお客様が戻るURL(return_url)を指定してください",
            )
        job = "CAPTURE" if request.capture else "AUTH"
        entered = await self._method_entry(
            m.entry,
            ref,
            {"OrderID": ref, "JobCd": job, "Amount": request.amount},
            job_cd=job,
            amount=request.amount,
            pay_method=m.key,
            differs="金額・処理区分",
        )
        if isinstance(entered, Outcome):
            return entered
        access, stored = entered
        exec_params: dict[str, object] = {**access, "OrderID": ref}
        if m.start_in_exec:
            exec_params["RetURL"] = return_url
            if m.error_url:
                exec_params["ErrorRcvURL"] = return_url
        else:
            exec_params["RedirectURL"] = return_url
        if m.item_field:
            exec_params[m.item_field] = request.source.get("item_name") or DEFAULT_ITEM
        try:
            reply = await self._client.call(m.exec, {**exec_params, **self._shop()}, ref=ref)
        except TransportError as exc:
            return self._transport(exc)
        if not reply.ok:
            return self._errors(reply, DeclineStage.PAYMENT, retry=bool(stored))
        start = self._start_url(m, reply, access)
        await self.store.put(ref, start_url=start)  # shown again while the customer is away
        return Outcome(OutcomeKind.PENDING, redirect_url=start)

    def _start_url(self, m: RedirectMethod, reply: Reply, access: Mapping[str, str]) -> str:
        if m.start_in_exec and reply.get("StartURL"):
            start = reply.get("StartURL") or ""
            query = {"AccessID": access["AccessID"], "Token": reply.get("Token") or ""}
        else:
            start = self.config.url(m.start_api)
            query = {"ShopID": self.config.shop_id, "AccessID": access["AccessID"]}
        joiner = "&" if "?" in start else "?"
        return f"{start}{joiner}{urlencode(query)}"

    async def _redirect_complete(
        self, ref: str, m: RedirectMethod, stored: Mapping[str, Any]
    ) -> Outcome:
        """The customer is back: GMO's state decides (never the return URL's parameters)."""
        try:
            found = await self._multi(ref, m)
        except ProviderUnreachable as exc:
            return Outcome(OutcomeKind.UNKNOWN, message=str(exc))
        except ProviderError as exc:
            return Outcome(OutcomeKind.DECLINED, code=exc.code, message=exc.message)
        if found.state in (ProviderState.AUTHORIZED, ProviderState.CAPTURED):
            captured = found.state is ProviderState.CAPTURED
            return Outcome(
                OutcomeKind.SUCCEEDED, transaction_id=found.transaction_id, captured=captured
            )
        if found.state is ProviderState.PENDING:  # not back yet: still 決済準備中
            return Outcome(OutcomeKind.PENDING, redirect_url=stored.get("start_url") or None)
        return Outcome(
            OutcomeKind.DECLINED,
            code=found.code,
            message=found.message or f"{m.name}の決済は完了していません",
            stage=DeclineStage.PAYMENT,
        )

    # ------------------------------------------------------------------ after authorize
    async def _redirect_call(
        self, api: str, ref: str, stored: Mapping[str, Any], extra: Mapping[str, object]
    ) -> Outcome:
        params = {
            "AccessID": stored["access_id"],
            "AccessPass": stored["access_pass"],
            "OrderID": ref,
            **extra,
            **self._shop(),
        }
        try:
            reply = await self._client.call(api, params, ref=ref)
        except TransportError as exc:
            return self._transport(exc)
        if not reply.ok:
            return self._errors(reply, DeclineStage.PAYMENT)
        return Outcome(OutcomeKind.SUCCEEDED, transaction_id=reply.get("TranID"))

    async def _redirect_capture(
        self, txn: Transaction, m: RedirectMethod, stored: Mapping[str, Any]
    ) -> Outcome:
        extra = {"Amount": txn.amount} if m.sales_amount else {}
        outcome = await self._redirect_call(m.sales, txn.reference, stored, extra)
        if outcome.kind is OutcomeKind.SUCCEEDED:
            return Outcome(OutcomeKind.SUCCEEDED, captured=True)
        return outcome

    async def _redirect_cancel(
        self, txn: Transaction, m: RedirectMethod, stored: Mapping[str, Any]
    ) -> Outcome:
        """<X>Cancel… for the whole amount; already cancelled or never approved needs none."""
        try:
            found = await self._multi(txn.reference, m)
        except (ProviderUnreachable, ProviderError) as exc:
            return not_sent(None, str(exc))  # nothing was changed yet
        if found.state is ProviderState.CANCELED:
            return Outcome(OutcomeKind.SUCCEEDED)
        if found.state in (ProviderState.NONE, ProviderState.PENDING, ProviderState.DECLINED):
            return Outcome(
                OutcomeKind.SUCCEEDED, message="決済サービスでは未決済のため取消は不要です"
            )
        amount = found.amount if found.amount is not None else txn.amount
        extra = {"CancelAmount": amount} if m.cancel_amount else {}
        return await self._redirect_call(m.cancel, txn.reference, stored, extra)

    def _redirect_change(self, m: RedirectMethod | SlipMethod) -> Outcome:
        return refused(
            "operation_unsupported",  # the engine's code: refused, nothing ever sent
            f"{m.name}(GMO PG)の金額変更連携には対応していません。"
            "取消のうえ新しい金額で決済してください",
        )

    async def _redirect_change_amount(
        self, txn: Transaction, new_amount: int, m: RedirectMethod, stored: Mapping[str, Any]
    ) -> Outcome:
        """金額変更 where GMO offers it: <change> with the new Amount (楽天ペイ V2, リクルート),
        or (d払い, auかんたん決済, エポス) a decrease returning the difference (<cancel> with
        CancelAmount) and an increase charging it (<increase> with IncreaseAmount). GMO's
        current amount is asked first, so a retry after a lost answer sends nothing twice."""
        if not (m.partial_cancel or m.change):
            return self._redirect_change(m)
        try:
            found = await self._multi(txn.reference, m)
        except (ProviderUnreachable, ProviderError) as exc:
            return not_sent(None, str(exc))  # nothing was changed yet
        current = found.amount if found.amount is not None else txn.amount
        if current == new_amount:  # already done (an answer lost on the way back)
            return Outcome(OutcomeKind.SUCCEEDED, captured=found.state is ProviderState.CAPTURED)
        if m.change:
            api, extra = m.change, {"Amount": new_amount}
        elif new_amount > current:
            if m.increase is None:
                return refused(
                    "increase_unsupported",
                    f"{m.name}(GMO PG)は増額できません(減額のみ)。"
                    "増額する場合は取消のうえ新しい金額で決済してください",
                )
            api, extra = m.increase, {"IncreaseAmount": new_amount - current}
        else:
            api, extra = m.cancel, {"CancelAmount": current - new_amount}
        outcome = await self._redirect_call(api, txn.reference, stored, extra)
        if outcome.kind is OutcomeKind.SUCCEEDED:
            await self.store.put(txn.reference, amount=new_amount)
            return Outcome(
                OutcomeKind.SUCCEEDED,
                transaction_id=outcome.transaction_id,
                captured=found.state is ProviderState.CAPTURED,
            )
        return outcome

    # ------------------------------------------------------------------ reconcile
    async def _multi(self, ref: str, m: RedirectMethod | SlipMethod) -> Lookup:
        """SearchTradeMulti (OrderID + PayType). Raises ProviderUnreachable / ProviderError
        when GMO cannot say."""
        params = {"OrderID": ref, "PayType": m.pay_type, **self._shop()}
        try:
            reply = await self._client.call("SearchTradeMulti", params, ref=ref)
        except TransportError as exc:
            raise ProviderUnreachable(exc.reason) from None
        if reply.infos == [NOT_FOUND_MULTI]:
            return Lookup(ProviderState.NONE, code=NOT_FOUND_MULTI, message="取引が見つかりません")
        if not reply.ok:
            code, message = "|".join(reply.infos), errors.message_for(reply.infos)
            if errors.Handling.DECLINED in {errors.handling(i) for i in reply.infos}:
                raise ProviderError(code, message)
            raise ProviderUnreachable(f"{code}: {message}")
        status = reply.get("Status") or ""
        state = MULTI_STATES.get(status)
        if state is None:
            raise ProviderError(f"Status={status}", f"GMO PGの取引状態「{status}」は扱えません")
        amount, tax = reply.get("Amount") or "", reply.get("Tax") or "0"
        total = int(amount) + int(tax) if amount.isdigit() and tax.isdigit() else None
        declined = state is ProviderState.DECLINED or status == "CANCEL"
        return Lookup(
            state,
            amount=total,
            transaction_id=reply.get("TranID"),
            code=f"Status={status}" if declined else None,
            message=CUSTOMER_WORDS.get(status),
        )
