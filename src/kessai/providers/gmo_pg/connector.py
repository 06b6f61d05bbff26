"""GMO PG クレジットカード (都度課金・継続課金) over idPass.

One connector per provider account (GmoPgConfig), one HTTP session, and the account's
ReferenceStore, keyed by OrderID (= kessai's reference for the attempt):
- authorize: EntryTran (JobCd AUTH, or CAPTURE for オーソリ時確定) → AccessID/AccessPass are
  stored BEFORE ExecTran, so a retry reuses them and never opens a second transaction;
  ExecTran with Token or MemberID + CardSeq; 3-D Secure 2.0 (TdFlag=2, RetUrl) answers
  ACS=2 + RedirectUrl: pending until complete_challenge() calls SecureTran2;
- capture: AlterTran SALES; change_amount: ChangeTran (AUTH before capture, CAPTURE after:
  GMO cancels the sale and charges the new amount); cancel: AlterTran VOID / RETURN /
  RETURNX chosen from GMO's 処理日 (SearchTrade ProcessDate) in Asia/Tokyo;
- lookup: SearchTrade by OrderID.
kessai's amount already includes tax (decide.validate_amount), so the whole amount is sent
as Amount and Tax is never split off: GMO would otherwise require the same split again on
SALES and ChangeTran, which the contract does not carry.
"""

import logging
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from kessai.core.clock import TOKYO
from kessai.providers.contract import (
    AuthorizeRequest,
    DeclineStage,
    Lookup,
    Outcome,
    OutcomeKind,
    ProviderState,
    Shipment,
    Transaction,
    not_sent,
    refused,
)
from kessai.providers.gmo_pg import errors, link, notification
from kessai.providers.gmo_pg.config import GmoPgConfig
from kessai.providers.gmo_pg.http import HttpRefused, IdPassClient, Reply
from kessai.providers.gmo_pg.linkpay import LinkMixin
from kessai.providers.gmo_pg.members import CARD_SEQ, CardVaultMixin, check_member_id, check_token
from kessai.providers.gmo_pg.methods import SLIP_BY_KEY, redirect_method
from kessai.providers.gmo_pg.redirect import RedirectMixin
from kessai.providers.gmo_pg.slips import SlipMixin
from kessai.providers.store import ReferenceStore
from kessai.providers.transport import NotSent, TransportError
from kessai.providers.vault import ProviderError, ProviderUnreachable

log = logging.getLogger("kessai.providers.gmo_pg")

ORDER_ID = re.compile(r"[A-Za-z0-9-]{1,27}")
ORDER_ID_RULE = "オーダーIDは27文字以内の半角英数字とハイフン(-)で指定してください"
ORDER_ID_EXISTS = "E01040010"
TRADE_NOT_FOUND = "E01110002"

# SearchTrade Status (クレジットカード) → what kessai holds. Source: GMO's status list as
# published in its SDKs (UNPROCESSED 未決済, AUTHENTICATED 未決済(3D登録済), CHECK 有効性チェック,
# CAPTURE 即時売上, AUTH 仮売上, SALES 実売上, VOID 取消, RETURN 返品, RETURNX 月跨り返品,
# SAUTH 簡易オーソリ).
STATES: dict[str, ProviderState] = {
    "UNPROCESSED": ProviderState.NONE,  # registered (EntryTran) but never charged
    "AUTHENTICATED": ProviderState.PENDING,  # waiting for the customer's 3-D Secure
    "CHECK": ProviderState.AUTHORIZED,
    "AUTH": ProviderState.AUTHORIZED,
    "SAUTH": ProviderState.AUTHORIZED,
    "CAPTURE": ProviderState.CAPTURED,
    "SALES": ProviderState.CAPTURED,
    "VOID": ProviderState.CANCELED,
    "RETURN": ProviderState.CANCELED,
    "RETURNX": ProviderState.CANCELED,
}

# Shop or site credentials and the contract: the shop must fix its settings (決済エラー).
_SHOP_ERRORS = ("E01010", "E01020", "E01030", "E01190", "E01200", "E01210", "E61020", "E61030")
# 42G messages naming money that may be there tomorrow; every other card refusal is final.
_SOFT_WORDS = ("残高", "限度額")


def _yes(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def is_hard(info: str) -> bool:
    """A 42G refusal that no retry with the same card can fix (decided from GMO's message:
    balance and credit limit are soft, wrong number / expiry / unusable card are hard)."""
    if not errors.is_card_decline(info):
        return False
    entry = errors.lookup(info)
    text = entry.message if entry else ""
    return not any(word in text for word in _SOFT_WORDS)


def outcome_of_errors(reply: Reply, stage: DeclineStage, *, retry: bool = False) -> Outcome:
    """GMO's ErrInfo list → an Outcome, GMO's codes and messages verbatim."""
    infos = reply.infos
    code = "|".join(infos)
    message = errors.message_for(infos)
    kinds = {errors.handling(i, exec_retry=retry) for i in infos}
    if errors.Handling.UNKNOWN in kinds:
        return Outcome(OutcomeKind.UNKNOWN, code=code, message=message)
    if errors.Handling.RETRY in kinds:  # still rate limited after the bounded retries
        return Outcome(OutcomeKind.NOT_SENT, code=code, message=message)
    if any(i.startswith(_SHOP_ERRORS) for i in infos):
        stage = DeclineStage.SYSTEM
    return Outcome(
        OutcomeKind.DECLINED,
        code=code,
        message=message,
        stage=stage,
        hard=any(is_hard(i) for i in infos),
    )


def outcome_of_transport(exc: TransportError) -> Outcome:
    if isinstance(exc, NotSent):
        return Outcome(OutcomeKind.NOT_SENT, message=exc.reason)
    if isinstance(exc, HttpRefused):
        return Outcome(
            OutcomeKind.DECLINED,
            code=f"HTTP{exc.status}",
            message=f"決済サービスが要求を受け付けませんでした ({exc.reason})。"
            "接続先URLを確認してください",
            stage=DeclineStage.SYSTEM,
        )
    return Outcome(OutcomeKind.UNKNOWN, message=exc.reason)


def cancel_job(process_date: date | None, today: date, *, captured: bool) -> str:
    """VOID on the day of GMO's last processing, RETURN later in the same month, RETURNX
    for a sale after the month has turned (GMO: 取消 / 返品 / 月跨り返品; dates in
    Asia/Tokyo). `captured`: GMO holds a sale (CAPTURE / SALES). A transaction still in AUTH
    is returned with RETURN, never RETURNX, whatever the month: nothing was sold in the
    earlier month (the rule of GMO's own EC-CUBE module, which GMO's test shop enforces)."""
    if process_date is None:
        return "RETURN" if captured else "VOID"
    if process_date >= today:
        return "VOID"
    if not captured or (process_date.year, process_date.month) == (today.year, today.month):
        return "RETURN"
    return "RETURNX"


def _total(reply: Reply) -> int | None:
    """Amount + Tax (税送料) of a SearchTrade answer: what GMO charges."""
    amount, tax = reply.get("Amount") or "", reply.get("Tax") or "0"
    if not (amount.isdigit() and tax.isdigit()):
        return None
    return int(amount) + int(tax)


def _gmo_date(value: str | None) -> date | None:
    """ProcessDate / TranDate (yyyyMMddHHmmss, Japan time)."""
    try:
        return datetime.strptime((value or "")[:8], "%Y%m%d").date()
    except ValueError:
        return None


class GmoPgConnector(CardVaultMixin, RedirectMixin, SlipMixin, LinkMixin):
    """Authorizer, Capturer, Canceller, AmountChanger, Reconciler, CardVault and
    ChallengeCompleter for one GMO PG account: クレジットカード here, the redirect methods
    (PayPay, d払い …) in redirect.py, コンビニ・Pay-easy・銀行振込 in slips.py, the payment
    link (リンクタイプ) in linkpay.py, chosen by the order's method type (later calls: by what
    the store kept for the OrderID)."""

    def __init__(self, account_id: int, settings: Mapping[str, Any], store: ReferenceStore) -> None:
        self.account_id = account_id
        self.config = GmoPgConfig.from_settings(settings)
        self.store = store
        self._client = IdPassClient(self.config)

    def __repr__(self) -> str:
        return f"GmoPgConnector(account_id={self.account_id}, config={self.config!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    def _shop(self) -> dict[str, object]:
        return {"ShopID": self.config.shop_id, "ShopPass": self.config.shop_pass}

    def _errors(self, reply: Reply, stage: DeclineStage, *, retry: bool = False) -> Outcome:
        return outcome_of_errors(reply, stage, retry=retry)

    def _transport(self, exc: TransportError) -> Outcome:
        return outcome_of_transport(exc)

    # ------------------------------------------------------------------ authorize
    def _card(self, source: Mapping[str, str]) -> dict[str, object] | Outcome:
        """ExecTran's card part: a one-time Token, or a stored card (MemberID + CardSeq).
        Nothing else of the source is ever read: card numbers never leave the browser."""
        token = source.get("token")
        if token:
            problem = check_token(token)
            return refused("invalid_token", problem) if problem else {"Token": token}
        member_id, card_seq = source.get("member_id"), source.get("card_seq")
        if member_id:
            problem = check_member_id(member_id)
            if problem:
                return refused("invalid_member_id", problem)
            if not CARD_SEQ.fullmatch(card_seq or ""):
                return refused(
                    "invalid_card_seq", "カード登録連番(card_seq)を数字で指定してください"
                )
            if not self.config.has_site:
                return refused(
                    "gmo_pg_site_missing",
                    "登録カードで決済するにはGMO PGのサイトID・サイトパスワードの設定が必要です",
                )
            return {
                "SiteID": self.config.site_id,
                "SitePass": self.config.site_pass,
                "MemberID": member_id,
                "CardSeq": card_seq,
            }
        return refused(
            "payment_source_missing", "トークンまたは登録カード(会員ID)を指定してください"
        )

    async def authorize(self, request: AuthorizeRequest) -> Outcome:
        ref = request.reference
        if not ORDER_ID.fullmatch(ref):
            return refused("invalid_order_id", f"{ORDER_ID_RULE} (受け取った値: {ref[:40]})")
        redirect = redirect_method(request.method, request.source)
        if redirect is not None:
            return await self._redirect_authorize(request, redirect)
        slip = SLIP_BY_KEY.get(request.method)
        if slip is not None:
            return await self._slip_authorize(request, slip)
        if request.method == link.METHOD:
            return await self._link_authorize(request)
        card = self._card(request.source)
        if isinstance(card, Outcome):
            return card
        tds2 = _yes(request.source.get("tds2")) or self.config.tds2
        return_url = request.source.get("tds2_return_url") or self.config.tds2_return_url
        if tds2 and not return_url:
            return refused("tds2_return_url_missing", "3Dセキュア認証後の戻り先URLが未設定です")
        job = "CAPTURE" if request.capture else "AUTH"

        stored = await self.store.get(ref) or {}
        retry = bool(stored.get("access_id"))
        if retry:
            same = (stored.get("amount"), stored.get("job_cd"), bool(stored.get("tds2")))
            if same != (request.amount, job, tds2):
                return refused(
                    "reference_reused",
                    f"オーダーID {ref} は別の金額・処理区分で登録済みです。"
                    "新しいオーダーIDで決済してください",
                )
            access = {"AccessID": stored["access_id"], "AccessPass": stored["access_pass"]}
        else:
            entered = await self._entry(ref, job, request.amount, tds2)
            if isinstance(entered, Outcome):
                return entered
            access = entered
            await self.store.put(
                ref,
                access_id=access["AccessID"],
                access_pass=access["AccessPass"],
                job_cd=job,
                amount=request.amount,
                tds2=tds2,
            )

        params: dict[str, object] = {
            **access,
            "OrderID": ref,
            "Method": "1",  # 一括
            "PayTimes": "",
            **card,
            **self._shop(),
        }
        if tds2:
            params["RetUrl"] = return_url
        try:
            reply = await self._client.call("ExecTran", params, ref=ref)
        except TransportError as exc:
            return outcome_of_transport(exc)
        if not reply.ok:
            # E11010001 on a second ExecTran: the first one may have gone through.
            return outcome_of_errors(reply, DeclineStage.PAYMENT, retry=retry)
        return await self._exec_result(ref, reply, captured=request.capture)

    async def _entry(self, ref: str, job: str, amount: int, tds2: bool) -> dict[str, str] | Outcome:
        params: dict[str, object] = {"OrderID": ref, "JobCd": job, "Amount": amount}
        if tds2:
            params["TdFlag"] = "2"  # 3-D Secure 2.0
        params.update(self._shop())
        try:
            reply = await self._client.call("EntryTran", params, ref=ref)
        except TransportError as exc:
            return outcome_of_transport(exc)
        if reply.infos == [ORDER_ID_EXISTS]:
            return await self._adopt(ref, job, amount)
        if not reply.ok:
            return outcome_of_errors(reply, DeclineStage.REGISTER)
        access_id, access_pass = reply.get("AccessID"), reply.get("AccessPass")
        if not access_id or not access_pass:
            return Outcome(OutcomeKind.UNKNOWN, message="EntryTranの応答に取引IDがありません")
        return {"AccessID": access_id, "AccessPass": access_pass}

    async def _adopt(self, ref: str, job: str, amount: int) -> dict[str, str] | Outcome:
        """EntryTran said the OrderID exists. If it is our own registration (same JobCd and
        amount) whose answer was lost, take its AccessID/AccessPass when it was never charged,
        or leave it to the reconcile when it was. Another registration under the same OrderID
        (a reinstalled kessai reusing order numbers …) is a registration failure."""
        try:
            found = await self._client.call(
                "SearchTrade", {"OrderID": ref, **self._shop()}, ref=ref
            )
        except TransportError as exc:
            return outcome_of_transport(exc)
        access_id, access_pass = found.get("AccessID"), found.get("AccessPass")
        exists = errors.message_for([ORDER_ID_EXISTS])
        if not (found.ok and access_id and access_pass):
            return Outcome(OutcomeKind.UNKNOWN, code=ORDER_ID_EXISTS, message=exists)
        if found.get("JobCd") != job or _total(found) != amount:
            return Outcome(
                OutcomeKind.DECLINED,
                code=ORDER_ID_EXISTS,
                message=exists,
                stage=DeclineStage.REGISTER,
            )
        if found.get("Status") == "UNPROCESSED":
            return {"AccessID": access_id, "AccessPass": access_pass}
        return Outcome(OutcomeKind.UNKNOWN, code=ORDER_ID_EXISTS, message=exists)

    async def _exec_result(self, ref: str, reply: Reply, *, captured: bool) -> Outcome:
        """ExecTran answered without error: done, or waiting for the customer (3-D Secure)."""
        acs = reply.get("ACS")
        if acs == "2" and reply.get("RedirectUrl"):
            return Outcome(OutcomeKind.PENDING, redirect_url=reply.get("RedirectUrl"))
        result = reply.get("Tds2TransResult")
        if result == "C" and reply.get("Tds2ChallengeUrl"):
            return Outcome(OutcomeKind.PENDING, redirect_url=reply.get("Tds2ChallengeUrl"))
        if result in ("Y", "A"):  # authenticated without a challenge: finish at once
            return await self.complete_challenge(ref)
        if result is not None:  # N, R, U: the issuer refused the authentication
            return Outcome(
                OutcomeKind.DECLINED,
                code=f"Tds2TransResult={result}",
                message=errors.message_for(["E21010001"]),
            )
        if acs == "1":
            return Outcome(
                OutcomeKind.DECLINED,
                code="ACS=1",
                message="3Dセキュア1.0の認証はご利用いただけません (サービス終了)",
                stage=DeclineStage.SYSTEM,
            )
        return Outcome(OutcomeKind.SUCCEEDED, transaction_id=reply.get("TranID"), captured=captured)

    async def complete_challenge(self, reference: str) -> Outcome:
        """SecureTran2 after the customer came back from the 3-D Secure 2.0 challenge (a
        redirect method: GMO's state after the customer's approval)."""
        redirect = await self._redirect_of(reference)
        if redirect is not None:
            return await self._redirect_complete(reference, *redirect)
        slip = await self._slip_of(reference)
        if slip is not None:
            return await self._slip_complete(reference, *slip)
        linked = await self._is_link(reference)
        if linked is not None:
            return await self._link_complete(reference, linked)
        stored = await self.store.get(reference) or {}
        access = await self._access(reference, stored)
        if isinstance(access, Outcome):
            return access
        retry = bool(stored.get("secure_sent"))
        if not retry:
            await self.store.put(reference, secure_sent=True)
        try:
            reply = await self._client.call("SecureTran2", access, ref=reference)
        except TransportError as exc:
            return outcome_of_transport(exc)
        if not reply.ok:
            return outcome_of_errors(reply, DeclineStage.PAYMENT, retry=retry)
        return Outcome(
            OutcomeKind.SUCCEEDED,
            transaction_id=reply.get("TranID"),
            captured=stored.get("job_cd") == "CAPTURE",
        )

    # ------------------------------------------------------------------ after authorize
    async def _access(
        self, ref: str, stored: Mapping[str, Any] | None = None
    ) -> dict[str, str] | Outcome:
        """AccessID/AccessPass of our OrderID: from the store, else from SearchTrade."""
        if stored is None:
            stored = await self.store.get(ref)
        if stored and stored.get("access_id"):
            return {"AccessID": stored["access_id"], "AccessPass": stored["access_pass"]}
        trade = await self._trade(ref)
        if isinstance(trade, Outcome):
            return trade
        return {"AccessID": trade.fields["AccessID"], "AccessPass": trade.fields["AccessPass"]}

    async def _trade(self, ref: str) -> Reply | Outcome:
        """SearchTrade before a change; any failure means nothing was changed yet."""
        if not ORDER_ID.fullmatch(ref):
            return refused("invalid_order_id", ORDER_ID_RULE)
        try:
            trade = await self._client.call(
                "SearchTrade", {"OrderID": ref, **self._shop()}, ref=ref
            )
        except TransportError as exc:
            outcome = outcome_of_transport(exc)
            return outcome if outcome.kind is OutcomeKind.DECLINED else not_sent(None, exc.reason)
        if not trade.ok:
            outcome = outcome_of_errors(trade, DeclineStage.SYSTEM)
            if outcome.kind is OutcomeKind.DECLINED:
                return outcome
            return not_sent(outcome.code, outcome.message or "")
        if not trade.get("AccessID") or not trade.get("AccessPass"):
            return Outcome(
                OutcomeKind.DECLINED,
                code=TRADE_NOT_FOUND,
                message=errors.message_for([TRADE_NOT_FOUND]),
                stage=DeclineStage.SYSTEM,
            )
        return trade

    async def _change(self, api: str, ref: str, params: Mapping[str, object]) -> Outcome:
        try:
            reply = await self._client.call(api, {**params, **self._shop()}, ref=ref)
        except TransportError as exc:
            return outcome_of_transport(exc)
        if not reply.ok:
            return outcome_of_errors(reply, DeclineStage.PAYMENT)
        new_id, new_pass = reply.get("AccessID"), reply.get("AccessPass")
        if new_id and new_pass and new_id != params.get("AccessID"):
            await self.store.put(ref, access_id=new_id, access_pass=new_pass)
        return Outcome(OutcomeKind.SUCCEEDED, transaction_id=reply.get("TranID"))

    async def capture(self, txn: Transaction, shipment: Shipment | None) -> Outcome:
        """AlterTran SALES: GMO checks the amount against the authorization's."""
        redirect = await self._redirect_of(txn.reference)
        if redirect is not None:
            return await self._redirect_capture(txn, *redirect)
        if await self._slip_of(txn.reference) is not None:  # paid means sold: nothing to do
            return Outcome(OutcomeKind.SUCCEEDED, captured=True)
        access = await self._access(txn.reference)
        if isinstance(access, Outcome):
            return access
        params = {**access, "JobCd": "SALES", "Amount": txn.amount}
        outcome = await self._change("AlterTran", txn.reference, params)
        if outcome.kind is OutcomeKind.SUCCEEDED:
            return Outcome(
                OutcomeKind.SUCCEEDED, transaction_id=outcome.transaction_id, captured=True
            )
        return outcome

    async def cancel(self, txn: Transaction, *, captured: bool) -> Outcome:
        """AlterTran VOID / RETURN / RETURNX after SearchTrade (its ProcessDate decides which;
        a transaction already canceled, or never charged, needs nothing more)."""
        redirect = await self._redirect_of(txn.reference)
        if redirect is not None:
            return await self._redirect_cancel(txn, *redirect)
        slip = await self._slip_of(txn.reference)
        if slip is not None:
            return await self._slip_cancel(txn, *slip)
        trade = await self._trade(txn.reference)
        if isinstance(trade, Outcome):
            return trade
        status = trade.get("Status") or ""
        if STATES.get(status) is ProviderState.CANCELED:
            return Outcome(OutcomeKind.SUCCEEDED, transaction_id=trade.get("TranID"))
        if STATES.get(status) in (ProviderState.NONE, ProviderState.PENDING):
            return Outcome(
                OutcomeKind.SUCCEEDED, message="決済サービスでは未決済のため取消は不要です"
            )
        today = self.store.clock.now().astimezone(TOKYO).date()
        sold = STATES.get(status) is ProviderState.CAPTURED  # GMO's own word, not the order's
        job = cancel_job(_gmo_date(trade.get("ProcessDate")), today, captured=sold)
        params = {
            "AccessID": trade.fields["AccessID"],
            "AccessPass": trade.fields["AccessPass"],
            "JobCd": job,
            "Amount": txn.amount,
        }
        return await self._change("AlterTran", txn.reference, params)

    async def change_amount(self, txn: Transaction, new_amount: int, *, captured: bool) -> Outcome:
        """ChangeTran: JobCd AUTH keeps it authorized, CAPTURE re-charges a captured sale."""
        redirect = await self._redirect_of(txn.reference)
        if redirect is not None:
            return await self._redirect_change_amount(txn, new_amount, *redirect)
        slip = await self._slip_of(txn.reference)
        if slip is not None:
            return self._redirect_change(slip[0])
        access = await self._access(txn.reference)
        if isinstance(access, Outcome):
            return access
        params = {**access, "JobCd": "CAPTURE" if captured else "AUTH", "Amount": new_amount}
        outcome = await self._change("ChangeTran", txn.reference, params)
        if outcome.kind is OutcomeKind.SUCCEEDED:
            return Outcome(
                OutcomeKind.SUCCEEDED, transaction_id=outcome.transaction_id, captured=captured
            )
        return outcome

    async def check_notification(
        self, reference: str, data: Mapping[str, Any], amount: int
    ) -> str | None:
        """結果通知 against the AccessID, pay type and amount kessai knows (notification.py)."""
        return await notification.check(self.store, reference, data, amount)

    # ------------------------------------------------------------------ reconcile
    async def lookup(self, reference: str) -> Lookup:
        """SearchTrade by OrderID. Raises ProviderUnreachable / ProviderError when GMO cannot
        say: the engine then keeps the order held rather than guess."""
        if not ORDER_ID.fullmatch(reference):
            return Lookup(ProviderState.NONE, message=ORDER_ID_RULE)
        redirect = await self._redirect_of(reference)
        if redirect is not None:
            return await self._multi(reference, redirect[0])
        slip = await self._slip_of(reference)
        if slip is not None:
            return await self._multi(reference, slip[0])
        try:
            reply = await self._client.call(
                "SearchTrade", {"OrderID": reference, **self._shop()}, ref=reference
            )
        except TransportError as exc:
            raise ProviderUnreachable(exc.reason) from None
        if reply.infos == [TRADE_NOT_FOUND]:
            return Lookup(
                ProviderState.NONE, code=TRADE_NOT_FOUND, message=errors.message_for(reply.infos)
            )
        if not reply.ok:
            code, message = "|".join(reply.infos), errors.message_for(reply.infos)
            if errors.Handling.DECLINED in {errors.handling(i) for i in reply.infos}:
                raise ProviderError(code, message)
            raise ProviderUnreachable(f"{code}: {message}")
        status = reply.get("Status") or ""
        state = STATES.get(status)
        if state is None:
            raise ProviderError(f"Status={status}", f"GMO PGの取引状態「{status}」は扱えません")
        return Lookup(state, amount=_total(reply), transaction_id=reply.get("TranID"))
