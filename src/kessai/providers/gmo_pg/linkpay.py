"""The connector's side of クレジットカード(リンクタイプ) (link.py holds GMO's facts).

authorize: the signed link, stored with its 決済可能期限 before it is handed out, answered
PENDING with the link as the URL the customer is sent to (the order stays 決済準備中); asked
again, the same link. Once GMO's 結果通知 came (or an operator's 決済照会), complete: GMO's
SearchTrade by OrderID decides: AUTH → 仮売上, CAPTURE/SALES → 売上, and its AccessID and
AccessPass are kept so capture, cancel and amount change run as for any card; no trade yet
and the deadline passed → the link has expired (期限切れ), declined.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kessai.core.clock import TOKYO
from kessai.providers.contract import AuthorizeRequest, Outcome, OutcomeKind, refused
from kessai.providers.gmo_pg import errors, link
from kessai.providers.gmo_pg.entry import ConnectorParts
from kessai.providers.transport import TransportError

TRADE_NOT_FOUND = "E01110002"
_PAID = {"AUTH": False, "CAPTURE": True, "SALES": True}
_UNPAID = ("UNPROCESSED", "AUTHENTICATED")


def expired_words(deadline: str) -> str:
    moment = datetime.fromisoformat(deadline).astimezone(TOKYO)
    return (
        f"お客様が支払いリンクの決済可能期限({moment:%Y/%m/%d %H:%M})までに"
        "決済を完了しませんでした (期限切れ)"
    )


class LinkMixin(ConnectorParts):
    """GMO's リンクタイプ, for GmoPgConnector."""

    async def _is_link(self, ref: str) -> dict[str, Any] | None:
        stored = await self.store.get(ref) or {}
        return stored if stored.get("pay_method") == link.METHOD else None

    async def _link_authorize(self, request: AuthorizeRequest) -> Outcome:
        ref, source = request.reference, request.source
        job = "CAPTURE" if request.capture else "AUTH"
        stored = await self.store.get(ref) or {}
        if stored.get("start_url"):
            if (stored.get("amount"), stored.get("job_cd")) != (request.amount, job):
                return refused(
                    "reference_reused",
                    f"オーダーID {ref} は別の金額・処理区分で登録済みです。"
                    "新しいオーダーIDで決済してください",
                )
            due = datetime.fromisoformat(str(stored["link_deadline"]))
            return Outcome(OutcomeKind.PENDING, redirect_url=str(stored["start_url"]), due_at=due)
        days_text = source.get("link_days") or ""
        days = int(days_text) if days_text.isdigit() else link.LINK_DAYS
        if days_text and not (days_text.isdigit() and 0 <= days <= link.MAX_LINK_DAYS):
            return refused(
                "link_days_invalid",
                f"支払いリンクの有効日数(link_days)は0から{link.MAX_LINK_DAYS}の整数で"
                "指定してください",
            )
        deadline = link.default_deadline(self.store.clock.now(), days)
        params = link.parameters(
            order_id=ref,
            amount=request.amount,
            job_cd=job,
            deadline=deadline,
            return_url=source.get("return_url") or None,
            overview=(source.get("item_name") or "ご注文商品")[:32],
            config_id=self.config.link_config_id,
        )
        url = link.link_url(
            self.config.link_endpoint, self.config.shop_id, params, self.config.shop_pass
        )
        await self.store.put(
            ref,
            pay_method=link.METHOD,
            amount=request.amount,
            job_cd=job,
            link_deadline=deadline.isoformat(),
            start_url=url,
        )
        return Outcome(OutcomeKind.PENDING, redirect_url=url, due_at=deadline)

    async def _link_complete(self, ref: str, stored: Mapping[str, Any]) -> Outcome:
        """Has the customer paid on GMO's page? SearchTrade says; the deadline says the rest."""
        try:
            reply = await self._client.call(
                "SearchTrade", {"OrderID": ref, **self._shop()}, ref=ref
            )
        except TransportError as exc:
            return Outcome(OutcomeKind.UNKNOWN, message=exc.reason)
        status = reply.get("Status") or "" if reply.ok else ""
        if not reply.ok and reply.infos != [TRADE_NOT_FOUND]:
            code = "|".join(reply.infos)
            return Outcome(OutcomeKind.UNKNOWN, code=code, message=errors.message_for(reply.infos))
        if status in _PAID:
            if int(reply.get("Amount") or 0) + int(reply.get("Tax") or 0) != stored.get("amount"):
                return Outcome(
                    OutcomeKind.UNKNOWN,
                    code="amount_mismatch",
                    message="支払いリンクで決済された金額が受注の金額と一致しません",
                )
            await self.store.put(
                ref, access_id=reply.get("AccessID"), access_pass=reply.get("AccessPass")
            )
            return Outcome(
                OutcomeKind.SUCCEEDED, transaction_id=reply.get("TranID"), captured=_PAID[status]
            )
        deadline = str(stored.get("link_deadline") or "")
        late = bool(deadline) and self.store.clock.now() > datetime.fromisoformat(deadline)
        if status in ("", *_UNPAID):
            if late:
                return Outcome(
                    OutcomeKind.DECLINED, code="EXPIRED", message=expired_words(deadline)
                )
            return Outcome(
                OutcomeKind.PENDING,
                redirect_url=str(stored.get("start_url") or ""),
                due_at=datetime.fromisoformat(deadline) if deadline else None,
            )
        return Outcome(
            OutcomeKind.DECLINED,
            code=f"Status={status}",
            message=f"支払いリンクの取引はGMO PGで「{status}」です",
        )
