"""The connector's side of GMO's pay-later methods: コンビニ, Pay-easy, 銀行振込 (methods.py).

authorize: EntryTran<X> (OrderID, Amount; AccessID/AccessPass stored before the next call),
ExecTran<X> → the payment slip (受付番号, 確認番号, 支払期限, 振込先口座 …), answered PENDING
with the slip: the order stays 決済準備中 until the customer pays. GMO's 結果通知 (PAYSUCCESS)
makes kessai ask SearchTradeMulti: paid → 売上完了 (the money is in: nothing to capture);
EXPIRED / CANCEL → 仮売上失敗. cancel: CvsCancel for an unpaid コンビニ slip; the others
have no cancel call, so an unpaid one needs none and a paid one is refused (a refund is a
bank transfer the shop makes itself).
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kessai.core.clock import TOKYO
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
from kessai.providers.gmo_pg.entry import ConnectorParts
from kessai.providers.gmo_pg.methods import SLIP_BY_KEY, SlipMethod
from kessai.providers.transport import TransportError
from kessai.providers.vault import ProviderError, ProviderUnreachable


class SlipMixin(ConnectorParts):
    """GMO's pay-later methods, for GmoPgConnector (needs its _multi too)."""

    async def _slip_of(self, ref: str) -> tuple[SlipMethod, dict[str, Any]] | None:
        stored = await self.store.get(ref) or {}
        method = SLIP_BY_KEY.get(str(stored.get("pay_method") or ""))
        return None if method is None else (method, stored)

    async def _slip_authorize(self, request: AuthorizeRequest, m: SlipMethod) -> Outcome:
        ref, source = request.reference, request.source
        exec_params: dict[str, object] = {}
        for gmo, key, required in m.exec_fields:
            given = source.get(key)
            if required and not given:
                return refused(f"{key}_missing", f"{m.name}: {m.labels[key]}を指定してください")
            if given:
                exec_params[gmo] = given
        entered = await self._method_entry(
            m.entry,
            ref,
            {"OrderID": ref, "Amount": request.amount},
            job_cd="CAPTURE",  # a slip is paid, never authorized
            amount=request.amount,
            pay_method=m.key,
            differs="金額・決済方法",
        )
        if isinstance(entered, Outcome):
            return entered
        access, stored = entered
        params = {**access, "OrderID": ref, **exec_params, **self._shop()}
        try:
            reply = await self._client.call(m.exec, params, ref=ref)
        except TransportError as exc:
            return self._transport(exc)
        if not reply.ok:
            return self._errors(reply, DeclineStage.PAYMENT, retry=bool(stored))
        slip = {label: reply.get(gmo) or "" for gmo, label in m.slip_fields if reply.get(gmo)}
        due = due_at(reply.get("PaymentTerm") or reply.get("AvailableDate") or "")
        await self.store.put(ref, slip=slip, due_at=due.isoformat() if due else None)
        return Outcome(OutcomeKind.PENDING, slip=slip, message=_slip_text(m, slip), due_at=due)

    async def _slip_complete(self, ref: str, m: SlipMethod, stored: Mapping[str, Any]) -> Outcome:
        """After a 結果通知 (or an operator's 決済照会): has the customer paid?"""
        try:
            found = await self._multi(ref, m)
        except ProviderUnreachable as exc:
            return Outcome(OutcomeKind.UNKNOWN, message=str(exc))
        except ProviderError as exc:
            return Outcome(OutcomeKind.DECLINED, code=exc.code, message=exc.message)
        if found.state is ProviderState.CAPTURED:
            return Outcome(
                OutcomeKind.SUCCEEDED, transaction_id=found.transaction_id, captured=True
            )
        if found.state in (ProviderState.PENDING, ProviderState.NONE):
            slip = dict(stored.get("slip") or {})
            due = stored.get("due_at")
            return Outcome(
                OutcomeKind.PENDING,
                slip=slip,
                message=_slip_text(m, slip),
                due_at=datetime.fromisoformat(due) if due else None,
            )
        return Outcome(
            OutcomeKind.DECLINED,
            code=found.code,
            message=found.message or f"{m.name}の支払いは完了していません",
        )

    async def _multi(self, ref: str, m: SlipMethod) -> Lookup:
        raise NotImplementedError

    async def _slip_cancel(
        self, txn: Transaction, m: SlipMethod, stored: Mapping[str, Any]
    ) -> Outcome:
        try:
            found = await self._multi(txn.reference, m)
        except (ProviderUnreachable, ProviderError) as exc:
            return not_sent("lookup_failed", str(exc))
        if found.state in (ProviderState.CANCELED, ProviderState.DECLINED, ProviderState.NONE):
            return Outcome(
                OutcomeKind.SUCCEEDED, message="決済サービスでは未入金のため取消は不要です"
            )
        if found.state is ProviderState.CAPTURED:
            return refused(
                "paid_slip_not_cancellable",
                f"{m.name}は入金済みのため決済サービスでは取り消せません。"
                "返金はショップから直接お客様へお振込みください",
            )
        if m.cancel is None:  # unpaid, and GMO has no call: the slip simply expires
            return Outcome(
                OutcomeKind.SUCCEEDED,
                message=f"{m.name}の未入金の取引は支払期限を過ぎると無効になります",
            )
        params = {
            "AccessID": stored["access_id"],
            "AccessPass": stored["access_pass"],
            "OrderID": txn.reference,
            **self._shop(),
        }
        try:
            reply = await self._client.call(m.cancel, params, ref=txn.reference)
        except TransportError as exc:
            return self._transport(exc)
        if not reply.ok:
            return self._errors(reply, DeclineStage.PAYMENT)
        return Outcome(OutcomeKind.SUCCEEDED)


def due_at(term: str) -> datetime | None:
    """支払期限 as GMO gives it (PaymentTerm yyyyMMddHHmmss; 銀行振込's AvailableDate
    yyyyMMdd: the whole day), Japan time."""
    try:
        if len(term) == 8:
            day = datetime.strptime(term, "%Y%m%d")
            return day.replace(hour=23, minute=59, second=59, tzinfo=TOKYO)
        return datetime.strptime(term, "%Y%m%d%H%M%S").replace(tzinfo=TOKYO)
    except ValueError:
        return None


def _slip_text(m: SlipMethod, slip: Mapping[str, str]) -> str:
    return f"{m.name}: " + "、".join(f"{k} {v}" for k, v in slip.items())
