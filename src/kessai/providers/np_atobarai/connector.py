"""NP後払い over its REST API: 取引登録 (与信), 取引変更, 取消, 出荷報告 and the status lookup.

One connector per account (NpConfig), one HTTP session, and the account's ReferenceStore
keyed by our reference (= NP's shop_transaction_id). Before each call that creates or moves
something, what it will be is remembered (the registration, `shipment_sent`), so an answer
lost on the way back is settled by a lookup and never by a second 取引登録 or 出荷報告.

The status lookup (POST /transactions/find, by np_transaction_id or shop_transaction_id,
answering authori_result and whether the shipment was reported) is how kessai asks NP what
it holds; FACTS.md documents /authorizations/find for the credit check only, so check this
call against NP's documentation before the first production shipment.
"""

import logging
from collections.abc import Mapping
from typing import Any

from kessai.core.clock import TOKYO
from kessai.providers.contract import (
    AuthorizeRequest,
    DeclineStage,
    InputProblem,
    Intended,
    Lookup,
    Outcome,
    OutcomeKind,
    ProviderState,
    Shipment,
    Transaction,
    refused,
)
from kessai.providers.np_atobarai import buyer, carriers, errors
from kessai.providers.np_atobarai.config import NpConfig
from kessai.providers.np_atobarai.http import NpClient, Reply
from kessai.providers.store import ReferenceStore
from kessai.providers.transport import NotSent, TransportError
from kessai.providers.vault import ProviderError, ProviderUnreachable

log = logging.getLogger("kessai.providers.np_atobarai")

MAX_SLIP = 20  # NP's slip_no is at most 20 characters


def _refused(problem: InputProblem) -> Outcome:
    return refused(problem.code, problem.message)


def _transport(exc: TransportError) -> Outcome:
    if isinstance(exc, NotSent):
        return Outcome(OutcomeKind.NOT_SENT, message=exc.reason)
    return Outcome(OutcomeKind.UNKNOWN, message=exc.reason)


def _declined(reply: Reply, stage: DeclineStage) -> Outcome:
    code = "|".join(reply.codes)
    if errors.AUTH_FAILED in reply.codes:
        stage = DeclineStage.SYSTEM
    return Outcome(
        OutcomeKind.DECLINED, code=code, message=errors.error_message(reply.codes), stage=stage
    )


def credit_check(result: Mapping[str, Any]) -> Outcome:
    """authori_result of a registration or update → an Outcome (NP's codes beside words)."""
    txn = result.get("np_transaction_id")
    verdict = str(result.get("authori_result") or "")
    if verdict == errors.OK:
        return Outcome(OutcomeKind.SUCCEEDED, code=verdict, transaction_id=txn)
    if verdict in (errors.HOLD, errors.BEFORE_REVIEW):
        holds = [str(h) for h in result.get("authori_hold") or []]
        message = errors.hold_message(holds) if verdict == errors.HOLD else "与信審査前"
        return Outcome(OutcomeKind.PENDING, code=verdict, message=message, transaction_id=txn)
    if verdict == errors.NG:
        reason = str(result.get("authori_ng") or "") or None
        return Outcome(
            OutcomeKind.DECLINED,
            code=reason or verdict,
            message=errors.ng_message(reason),
            transaction_id=txn,
            hard=errors.is_final_decline(reason),
        )
    if verdict == errors.REREGISTER:
        return Outcome(
            OutcomeKind.DECLINED,
            code=verdict,
            message="再登録が必要です(取引内容を確認して再オーソリしてください)",
            transaction_id=txn,
        )
    return Outcome(OutcomeKind.UNKNOWN, message=f"NP後払いの与信結果「{verdict[:10]}」を読めません")


class NpAtobaraiConnector:
    """Authorizer, Capturer, Canceller, AmountChanger, Reconciler and InputChecker."""

    def __init__(self, account_id: int, settings: Mapping[str, Any], store: ReferenceStore) -> None:
        self.account_id = account_id
        self.config = NpConfig.from_settings(settings)
        self.store = store
        self._client = NpClient(self.config)

    async def aclose(self) -> None:
        await self._client.aclose()

    # ------------------------------------------------------------------ input rules
    def check_input(self, intended: Intended) -> InputProblem | None:
        if intended.operation in ("authorize", "authorize_capture"):
            found = buyer.read(intended.source, intended.amount or 0)
            return found if isinstance(found, InputProblem) else None
        if intended.operation == "capture":
            return self._shipment_problem(intended.shipment)
        return None

    def _shipment_problem(self, shipment: Shipment | None) -> InputProblem | None:
        if shipment is None or not shipment.tracking_number.strip():
            return InputProblem(
                "np_slip_required", "出荷報告には配送伝票番号が必要です", field="tracking_number"
            )
        if len(shipment.tracking_number) > MAX_SLIP:
            return InputProblem(
                "np_slip_invalid",
                f"配送伝票番号は{MAX_SLIP}文字以内で指定してください",
                field="tracking_number",
            )
        if not shipment.carrier:
            return InputProblem(
                "np_carrier_required", "出荷報告には配送業者の指定が必要です", field="carrier"
            )
        if carriers.code_for(shipment.carrier, self.config.carrier_codes) is None:
            return InputProblem(
                "np_unknown_carrier",
                f"配送業者「{shipment.carrier[:30]}」のNP後払い配送業者コードが分かりません。"
                "外部連携アカウントの配送業者コードに「配送業者名=コード」を追加してください",
                field="carrier",
            )
        return None

    # ------------------------------------------------------------------ 取引登録 (与信)
    async def authorize(self, request: AuthorizeRequest) -> Outcome:
        ref = request.reference
        found = buyer.read(request.source, request.amount)
        if isinstance(found, InputProblem):
            return _refused(found)
        stored = await self.store.get(ref) or {}
        if stored.get("registration_sent"):
            # The answer to an earlier registration was lost: ask before registering again.
            known = await self._find(ref, stored)
            if isinstance(known, Outcome):
                return known
            if known is not None:
                await self._remember(ref, known)
                return credit_check(known)
        ordered_on = self.store.clock.now().astimezone(TOKYO).date().isoformat()
        body = buyer.registration(ref, ordered_on, request.amount, found)
        await self.store.put(ref, registration_sent=True, registration=body)
        try:
            reply = await self._client.call("POST", "/transactions", [body], ref=ref)
        except TransportError as exc:
            return _transport(exc)
        if errors.DUPLICATE_SHOP_TRANSACTION in reply.codes:
            return Outcome(OutcomeKind.UNKNOWN, code="|".join(reply.codes), message="登録済み")
        if not reply.ok:
            return _declined(reply, DeclineStage.REGISTER)
        await self._remember(ref, reply.first())
        return credit_check(reply.first())

    async def _remember(self, ref: str, result: Mapping[str, Any]) -> None:
        txn = result.get("np_transaction_id")
        if txn:
            await self.store.put(ref, np_transaction_id=str(txn))

    async def _np_id(self, ref: str) -> str | Outcome:
        stored = await self.store.get(ref) or {}
        if stored.get("np_transaction_id"):
            return str(stored["np_transaction_id"])
        known = await self._find(ref, stored)
        if isinstance(known, Outcome):
            return known
        if known is None or not known.get("np_transaction_id"):
            return Outcome(
                OutcomeKind.DECLINED,
                code=errors.NOT_FOUND,
                message=errors.error_message([errors.NOT_FOUND]),
                stage=DeclineStage.SYSTEM,
            )
        await self._remember(ref, known)
        return str(known["np_transaction_id"])

    async def _find(self, ref: str, stored: Mapping[str, Any]) -> dict[str, Any] | Outcome | None:
        """NP's record of our reference, None when NP has none; an Outcome when NP cannot
        be asked (nothing new is sent then)."""
        key = (
            {"np_transaction_id": stored["np_transaction_id"]}
            if stored.get("np_transaction_id")
            else {"shop_transaction_id": ref}
        )
        try:
            reply = await self._client.call("POST", "/transactions/find", [key], ref=ref)
        except TransportError as exc:
            return Outcome(OutcomeKind.UNKNOWN, message=exc.reason)
        if errors.NOT_FOUND in reply.codes or (reply.ok and not reply.results):
            return None
        if not reply.ok:
            return Outcome(
                OutcomeKind.UNKNOWN,
                code="|".join(reply.codes),
                message=errors.error_message(reply.codes),
            )
        return reply.first()

    # ------------------------------------------------------------------ 出荷報告
    async def capture(self, txn: Transaction, shipment: Shipment | None) -> Outcome:
        problem = self._shipment_problem(shipment)
        if problem is not None or shipment is None:
            return _refused(problem or InputProblem("np_slip_required", "配送伝票番号が必要です"))
        np_id = await self._np_id(txn.reference)
        if isinstance(np_id, Outcome):
            return np_id
        code = carriers.code_for(shipment.carrier, self.config.carrier_codes)
        report = {
            "np_transaction_id": np_id,
            "pd_company_code": code,
            "slip_no": shipment.tracking_number,
        }
        await self.store.put(txn.reference, shipment_sent=True)
        try:
            reply = await self._client.call("POST", "/shipments", [report], ref=txn.reference)
        except TransportError as exc:
            return _transport(exc)
        if not reply.ok:
            return _declined(reply, DeclineStage.PAYMENT)
        return Outcome(OutcomeKind.SUCCEEDED, transaction_id=np_id, captured=True)

    # ------------------------------------------------------------------ 取消
    async def cancel(self, txn: Transaction, *, captured: bool) -> Outcome:
        np_id = await self._np_id(txn.reference)
        if isinstance(np_id, Outcome):
            return np_id
        try:
            reply = await self._client.call(
                "PATCH", "/transactions/cancel", [{"np_transaction_id": np_id}], ref=txn.reference
            )
        except TransportError as exc:
            return _transport(exc)
        if not reply.ok:
            return _declined(reply, DeclineStage.PAYMENT)
        return Outcome(OutcomeKind.SUCCEEDED, transaction_id=np_id)

    # ------------------------------------------------------------------ 取引変更
    async def change_amount(self, txn: Transaction, new_amount: int, *, captured: bool) -> Outcome:
        """取引変更 before the 出荷報告 (NP re-checks the credit); after it NP only takes a
        re-registration, which kessai does not send: seed 003 refuses it first."""
        stored = await self.store.get(txn.reference) or {}
        if captured or stored.get("shipment_sent"):
            return refused(
                "np_shipment_reported", "出荷報告(伝票番号連携)後のため金額変更できません"
            )
        np_id = await self._np_id(txn.reference)
        if isinstance(np_id, Outcome):
            return np_id
        registration = dict(stored.get("registration") or {})
        goods = buyer.adjusted(buyer.goods_of(registration.get("goods")), new_amount)
        registration.update(
            np_transaction_id=np_id,
            billed_amount=new_amount,
            goods=[g.wire() for g in goods],
        )
        registration.pop("settlement_type", None)
        await self.store.put(txn.reference, registration=registration)
        try:
            reply = await self._client.call(
                "PATCH", "/transactions/update", [registration], ref=txn.reference
            )
        except TransportError as exc:
            return _transport(exc)
        if not reply.ok:
            return _declined(reply, DeclineStage.PAYMENT)
        outcome = credit_check(reply.first())
        if outcome.kind is OutcomeKind.SUCCEEDED:
            return Outcome(OutcomeKind.SUCCEEDED, code=outcome.code, transaction_id=np_id)
        # Held or NG after the change: the change did not go through as asked.
        return Outcome(
            OutcomeKind.DECLINED, code=outcome.code, message=outcome.message, transaction_id=np_id
        )

    # ------------------------------------------------------------------ 照会
    async def lookup(self, reference: str) -> Lookup:
        stored = await self.store.get(reference) or {}
        known = await self._find(reference, stored)
        if isinstance(known, Outcome):
            raise ProviderUnreachable(known.message or "NP後払いに照会できませんでした")
        if known is None:
            return Lookup(
                ProviderState.NONE, code=errors.NOT_FOUND, message="NP後払いに取引がありません"
            )
        await self._remember(reference, known)
        return lookup_of(known)


def lookup_of(found: Mapping[str, Any]) -> Lookup:
    txn = str(found.get("np_transaction_id") or "") or None
    amount = found.get("billed_amount")
    amount = amount if isinstance(amount, int) else None
    status = str(found.get("status") or "")
    if status == "canceled":
        return Lookup(ProviderState.CANCELED, amount=amount, transaction_id=txn)
    if status == "shipped":
        return Lookup(
            ProviderState.CAPTURED, amount=amount, transaction_id=txn, shipment_reported=True
        )
    if status != "registered":
        raise ProviderError(
            f"status={status[:20]}", f"NP後払いの取引状態「{status[:20]}」は扱えません"
        )
    outcome = credit_check(found)
    state = {
        OutcomeKind.SUCCEEDED: ProviderState.AUTHORIZED,
        OutcomeKind.PENDING: ProviderState.PENDING,
        OutcomeKind.DECLINED: ProviderState.DECLINED,
    }.get(outcome.kind)
    if state is None:
        raise ProviderError(
            outcome.code or "-", outcome.message or "NP後払いの与信結果を読めません"
        )
    return Lookup(
        state, amount=amount, transaction_id=txn, code=outcome.code, message=outcome.message
    )
