"""SBPS クレジットカード (都度課金) and キャリア決済 over the XML API.

One connector per account (SbpsConfig), one HTTP session, and the account's ReferenceStore
keyed by our reference (= SBPS's order_id):
- authorize: 決済 (ST01-00131-101, the token from SBPS's token JS), then 確定 (ST02-00101);
  with オーソリ時確定 also 売上 (ST02-00201). What SBPS gives back (tracking_id …) is stored
  before the next call, and each step is marked sent before it goes, so a retry after a lost
  answer continues where SBPS is instead of charging again.
- capture: 売上 with the order's amount, refused unsent once the brand's 与信期限 has passed
  (brands.py); change_amount: before 売上 a decrease is kept for the 売上 (SBPS takes the
  amount with it), after 売上 a decrease is a 部分返金 (ST02-00307); an increase needs a new
  authorization (再オーソリ). cancel: 取消返金 (ST02-00303) before or after 売上.
- The 再オーソリ limit (four per order; SBPS refuses a fifth) is seed data kessai checks
  before any call (payments.capabilities.reauthorization); the simulator refuses it too.
- キャリア決済 (d払い, auかんたん決済, ソフトバンクまとめて支払い): authorize hands the
  customer the signed 購入要求 (link type, link.py) and waits (決済準備中); SBPS's 結果CGI
  (notification.py) sets the inbox looking it up. Carriers have no 確定: capture is 売上
  (ST02-00201-40x) alone, cancel 取消返金 (ST02-00303-40x).
- lookup: 決済結果参照 (MG01-00101) by tracking_id, or by order_id when the answer to the
  決済 was lost; its answer fields (res_pay_status, res_amount) are kessai's reading of
  SBPS's 決済結果参照: check them against SBPS's specification before production.
"""

import logging
from collections.abc import Mapping
from datetime import date, timedelta
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
from kessai.providers.sbps import brands, codec, errors, link, requests
from kessai.providers.sbps.config import SbpsConfig
from kessai.providers.sbps.http import UNAUTHORIZED, SbpsClient
from kessai.providers.store import ReferenceStore
from kessai.providers.transport import NotSent, TransportError
from kessai.providers.vault import ProviderError, ProviderUnreachable

log = logging.getLogger("kessai.providers.sbps")

# res_pay_status of 決済結果参照 → what kessai holds.
STATES = {
    # 与信 not yet 確定 (its answer was lost): held all the same; 売上 sends the 確定 first.
    "1": ProviderState.AUTHORIZED,
    "2": ProviderState.AUTHORIZED,  # 確定 (仮売上)
    "3": ProviderState.CAPTURED,  # 売上
    "4": ProviderState.CANCELED,  # 取消・返金
    "9": ProviderState.DECLINED,  # 与信NG
}
NOT_FOUND = "10106999"  # no transaction for that key (the simulator's; SBPS's item 999)


def _transport(exc: TransportError) -> Outcome:
    kind = OutcomeKind.NOT_SENT if isinstance(exc, NotSent) else OutcomeKind.UNKNOWN
    return Outcome(kind, message=exc.reason)


def declined(answer: codec.Document, stage: DeclineStage = DeclineStage.PAYMENT) -> Outcome:
    code = answer.get("res_err_code") or "NG"
    if code == UNAUTHORIZED:
        return Outcome(
            OutcomeKind.DECLINED,
            code=code,
            message="SBPSのBasic認証に失敗しました(Basic認証ID・Passwordを確認してください)",
            stage=DeclineStage.SYSTEM,
        )
    if not errors.is_card_decline(code) and stage is DeclineStage.PAYMENT:
        stage = DeclineStage.SYSTEM
    return Outcome(
        OutcomeKind.DECLINED,
        code=code,
        message=errors.message(code),
        stage=stage,
        hard=errors.is_final_decline(code),
    )


class SbpsConnector:
    """Authorizer, Capturer, Canceller, AmountChanger, Reconciler and InputChecker."""

    def __init__(self, account_id: int, settings: Mapping[str, Any], store: ReferenceStore) -> None:
        self.account_id = account_id
        self.config = SbpsConfig.from_settings(settings)
        self.store = store
        self._client = SbpsClient(self.config)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _now(self) -> Any:
        return self.store.clock.now()

    @staticmethod
    def _api(template: str, stored: Mapping[str, Any]) -> str:
        """The request id for the method of this transaction (クレジット, or a carrier's)."""
        return template.format(method=stored.get("method") or requests.CARD)

    # ------------------------------------------------------------------ input rules
    def check_input(self, intended: Intended) -> InputProblem | None:
        if intended.operation in ("authorize", "authorize_capture"):
            if "carrier" in intended.source:
                return self._carrier_problem(intended.source)
            return self._token_problem(intended.source)
        return None

    def _carrier_problem(self, source: Mapping[str, str]) -> InputProblem | None:
        if source.get("carrier") not in requests.CARRIERS:
            return InputProblem(
                "sbps_unknown_carrier",
                "キャリア決済の種類(carrier)は d_barai・au_easy・softbank_keitai のいずれかで"
                "指定してください",
                field="payment_source.carrier",
            )
        if not self.config.kessai_url or not self.config.return_url:
            return InputProblem(
                "sbps_carrier_urls_missing",
                "キャリア決済には外部連携アカウントにkessaiの公開URLと戻り先URLの設定が必要です",
            )
        return None

    @staticmethod
    def _token_problem(source: Mapping[str, str]) -> InputProblem | None:
        if not source.get("token") or not source.get("token_key"):
            return InputProblem(
                "sbps_token_missing",
                "SBPSのトークン(token と token_key)を指定してください",
                field="payment_source.token",
            )
        return None

    # ------------------------------------------------------------------ 決済 + 確定
    async def authorize(self, request: AuthorizeRequest) -> Outcome:
        if "carrier" in request.source:
            return await self._purchase(request)
        ref = request.reference
        problem = self._token_problem(request.source)
        if problem is not None:
            return refused(problem.code, problem.message)
        stored = await self.store.get(ref) or {}
        if stored.get("authorize_sent") and not stored.get("tracking_id"):
            # The answer to our 決済 was lost: SBPS may hold it. Never a second 決済.
            found = await self._find(ref, stored)
            if isinstance(found, Outcome):
                return found
            if found is not None:
                stored = await self._adopt(ref, found)
        if not stored.get("tracking_id"):
            await self.store.put(ref, authorize_sent=True, amount=request.amount)
            nodes = requests.authorize(
                self.config, ref, request.amount, request.source, self._now()
            )
            try:
                answer = await self._client.call(requests.AUTHORIZE, nodes, ref=ref)
            except TransportError as exc:
                return _transport(exc)
            if answer.get("res_result") != "OK":
                return declined(answer)
            stored = await self._adopt(ref, answer)
        committed = await self._step(ref, stored, "committed", requests.COMMIT)
        if committed is not None:
            return committed
        if request.capture:
            sold = await self._step(ref, stored, "sold", requests.SALES, request.amount)
            if sold is not None:
                return sold
        return Outcome(
            OutcomeKind.SUCCEEDED, transaction_id=stored["tracking_id"], captured=request.capture
        )

    async def _purchase(self, request: AuthorizeRequest) -> Outcome:
        """キャリア決済: the customer goes to SBPS's purchase page with the signed 購入要求;
        SBPS's result notice (notification.py) brings the answer, looked up before it counts."""
        problem = self._carrier_problem(request.source)
        if problem is not None:
            return refused(problem.code, problem.message)
        kessai_url, return_url = self.config.kessai_url or "", self.config.return_url or ""
        method, pay_method = requests.CARRIERS[request.source["carrier"]]
        await self.store.put(request.reference, method=method, amount=request.amount)
        notice = f"{kessai_url}/webhooks/sbps/{self.account_id}"
        fields = requests.purchase(
            self.config,
            request.reference,
            request.amount,
            pay_method,
            notice,
            return_url,
            self._now(),
        )
        # SBPS's page takes the 購入要求 as a form POST; the storefront gets it as the URL's
        # query (Shift_JIS like the form), which its auto-submitting form posts or a browser
        # opens: the simulator's page takes both.
        query = link.encode(fields)
        return Outcome(OutcomeKind.PENDING, redirect_url=f"{self.config.purchase_url}?{query}")

    async def _adopt(self, ref: str, answer: codec.Document) -> dict[str, Any]:
        """What SBPS gave for our 決済, remembered before the next call."""
        fields = {
            "tracking_id": answer.get("res_tracking_id") or "",
            "sps_transaction_id": answer.get("res_sps_transaction_id") or "",
            "processing_datetime": answer.get("res_process_date") or "",
            "brand": answer.get("res_pay_method_info/cardbrand_code")
            or answer.get("res_cardbrand_code"),
            "authorized_on": self._now().astimezone(TOKYO).date().isoformat(),
        }
        await self.store.put(ref, **fields)
        return {**(await self.store.get(ref) or {}), **fields}

    async def _step(
        self, ref: str, stored: Mapping[str, Any], done: str, api: str, amount: int | None = None
    ) -> Outcome | None:
        """確定 or 売上 once: None when done (now or before), else the outcome to return."""
        if stored.get(done):
            return None
        if stored.get(f"{done}_sent"):
            # Sent before, answer lost: SBPS may have done it (a second one would be refused).
            found = await self._find(ref, stored)
            if isinstance(found, codec.Document) and _reached(found, done):
                await self.store.put(ref, **{done: True})
                return None
        await self.store.put(ref, **{f"{done}_sent": True})
        nodes = requests.on_transaction(self.config, stored, self._now(), amount)
        try:
            answer = await self._client.call(self._api(api, stored), nodes, ref=ref)
        except TransportError as exc:
            return _transport(exc)
        if answer.get("res_result") != "OK":
            return declined(answer)
        await self.store.put(ref, **{done: True})
        return None

    async def _stored(self, ref: str) -> dict[str, Any] | Outcome:
        stored = await self.store.get(ref) or {}
        if stored.get("tracking_id"):
            return stored
        found = await self._find(ref, stored)
        if isinstance(found, Outcome):
            return found
        if found is None:
            return Outcome(
                OutcomeKind.DECLINED,
                code=NOT_FOUND,
                message="SBPSに取引が見つかりません",
                stage=DeclineStage.SYSTEM,
            )
        return await self._adopt(ref, found)

    # ------------------------------------------------------------------ 売上
    def _expired(self, stored: Mapping[str, Any]) -> Outcome | None:
        raw = stored.get("authorized_on")
        if not raw:
            return None
        name, days = brands.limit(stored.get("brand"))
        today = self._now().astimezone(TOKYO).date()
        if today <= date.fromisoformat(raw) + timedelta(days=days):
            return None
        return Outcome(
            OutcomeKind.DECLINED,
            code=errors.AUTHORIZATION_EXPIRED,
            message=f"与信期限({name}: {days}日)を過ぎているため売上できません。"
            "再オーソリを実行してください",
        )

    async def capture(self, txn: Transaction, shipment: Shipment | None) -> Outcome:
        stored = await self._stored(txn.reference)
        if isinstance(stored, Outcome):
            return stored
        expired = self._expired(stored)
        if expired is not None:
            return expired
        if (stored.get("method") or requests.CARD) == requests.CARD:  # carriers have no 確定
            committed = await self._step(txn.reference, stored, "committed", requests.COMMIT)
            if committed is not None:
                return committed
        amount = int(stored.get("sales_amount") or txn.amount)
        sold = await self._step(txn.reference, stored, "sold", requests.SALES, amount)
        if sold is not None:
            return sold
        return Outcome(OutcomeKind.SUCCEEDED, transaction_id=stored["tracking_id"], captured=True)

    # ------------------------------------------------------------------ 取消返金
    async def cancel(self, txn: Transaction, *, captured: bool) -> Outcome:
        stored = await self._stored(txn.reference)
        if isinstance(stored, Outcome):
            return stored
        nodes = requests.on_transaction(self.config, stored, self._now())
        try:
            answer = await self._client.call(
                self._api(requests.CANCEL, stored), nodes, ref=txn.reference
            )
        except TransportError as exc:
            return _transport(exc)
        if answer.get("res_result") != "OK":
            return declined(answer)
        return Outcome(OutcomeKind.SUCCEEDED, transaction_id=stored["tracking_id"])

    # ------------------------------------------------------------------ 金額変更・部分返金
    async def change_amount(self, txn: Transaction, new_amount: int, *, captured: bool) -> Outcome:
        if new_amount > txn.amount:
            return Outcome(
                OutcomeKind.DECLINED,
                code="sbps_increase_not_supported",
                message="SBPSでは与信後の増額はできません。再オーソリを実行してください",
                stage=DeclineStage.SYSTEM,
            )
        stored = await self._stored(txn.reference)
        if isinstance(stored, Outcome):
            return stored
        if not captured:
            # SBPS takes the amount with the 売上: kept until then.
            await self.store.put(txn.reference, sales_amount=new_amount)
            return Outcome(
                OutcomeKind.SUCCEEDED,
                transaction_id=stored["tracking_id"],
                message="売上処理の際に変更後の金額で売上します",
            )
        nodes = requests.on_transaction(self.config, stored, self._now(), txn.amount - new_amount)
        try:
            answer = await self._client.call(
                self._api(requests.PARTIAL_REFUND, stored), nodes, ref=txn.reference
            )
        except TransportError as exc:
            return _transport(exc)
        if answer.get("res_result") != "OK":
            return declined(answer)
        return Outcome(OutcomeKind.SUCCEEDED, transaction_id=stored["tracking_id"], captured=True)

    # ------------------------------------------------------------------ 決済結果参照
    async def _find(self, ref: str, stored: Mapping[str, Any]) -> codec.Document | Outcome | None:
        nodes = requests.lookup(self.config, ref, stored.get("tracking_id"), self._now())
        try:
            answer = await self._client.call(self._api(requests.LOOKUP, stored), nodes, ref=ref)
        except TransportError as exc:
            return Outcome(OutcomeKind.UNKNOWN, message=exc.reason)
        if answer.get("res_err_code") == NOT_FOUND:
            return None
        if answer.get("res_result") != "OK":
            return Outcome(
                OutcomeKind.UNKNOWN,
                code=answer.get("res_err_code"),
                message=errors.message(answer.get("res_err_code") or ""),
            )
        return answer

    async def lookup(self, reference: str) -> Lookup:
        stored = await self.store.get(reference) or {}
        found = await self._find(reference, stored)
        if isinstance(found, Outcome):
            raise ProviderUnreachable(found.message or "SBPSに照会できませんでした")
        if found is None:
            return Lookup(ProviderState.NONE, code=NOT_FOUND, message="SBPSに取引がありません")
        status = found.get("res_pay_status") or ""
        state = STATES.get(status)
        if state is None:
            raise ProviderError(f"res_pay_status={status[:10]}", "SBPSの決済状況を読めません")
        if not stored.get("tracking_id") and state is not ProviderState.DECLINED:
            await self._adopt(reference, found)
        reached = {d: True for d in ("committed", "sold") if _reached(found, d)}
        if reached:
            await self.store.put(reference, **reached)
        amount = found.get("res_amount")
        return Lookup(
            state,
            amount=int(amount) if amount and amount.isdigit() else None,
            transaction_id=found.get("res_tracking_id"),
            code=found.get("res_err_code"),
        )


def _reached(found: codec.Document, step: str) -> bool:
    """Has SBPS done this step (確定: committed, 売上: sold) by its 決済結果参照?"""
    status = found.get("res_pay_status") or ""
    return status in (("2", "3") if step == "committed" else ("3",))
