"""What the method mixins (redirect.py, slips.py, linkpay.py) need of GmoPgConnector, and the
EntryTran<X> registration the redirect and pay-later methods share."""

from collections.abc import Mapping
from typing import Any

from kessai.providers.contract import DeclineStage, Outcome, OutcomeKind, refused
from kessai.providers.gmo_pg.config import GmoPgConfig
from kessai.providers.gmo_pg.http import IdPassClient, Reply
from kessai.providers.store import ReferenceStore
from kessai.providers.transport import TransportError

Access = dict[str, str]  # AccessID, AccessPass


class ConnectorParts:
    """The account's settings, its reference store, the idPass client and the outcome helpers
    of connector.py (declared here, defined there, so these modules stay free of that one)."""

    config: GmoPgConfig
    store: ReferenceStore
    _client: IdPassClient

    def _shop(self) -> dict[str, object]:
        raise NotImplementedError

    def _errors(self, reply: Reply, stage: DeclineStage, *, retry: bool = False) -> Outcome:
        raise NotImplementedError

    def _transport(self, exc: TransportError) -> Outcome:
        raise NotImplementedError

    async def _method_entry(
        self,
        api: str,
        ref: str,
        params: Mapping[str, object],
        *,
        job_cd: str,
        amount: int,
        pay_method: str,
        differs: str,
    ) -> tuple[Access, dict[str, Any]] | Outcome:
        """EntryTran<X> once per reference: the AccessID/AccessPass stored by an earlier try
        (its answer to ExecTran lost) is used again for the same amount, 処理区分 and method
        and refused for any other (`differs` names what may differ); a new pair is stored
        before the next call. Returns the pair and what was stored before this try."""
        stored = await self.store.get(ref) or {}
        if stored.get("access_id"):
            if (stored.get("amount"), stored.get("job_cd"), stored.get("pay_method")) != (
                amount,
                job_cd,
                pay_method,
            ):
                return refused(
                    "reference_reused",
                    f"オーダーID {ref} は別の{differs}で登録済みです。"
                    "新しいオーダーIDで決済してください",
                )
            return {"AccessID": stored["access_id"], "AccessPass": stored["access_pass"]}, stored
        try:
            entry = await self._client.call(api, {**params, **self._shop()}, ref=ref)
        except TransportError as exc:
            return self._transport(exc)
        if not entry.ok:
            return self._errors(entry, DeclineStage.REGISTER)
        access_id, access_pass = entry.get("AccessID"), entry.get("AccessPass")
        if not access_id or not access_pass:
            return Outcome(OutcomeKind.UNKNOWN, message=f"{api}の応答に取引IDがありません")
        await self.store.put(
            ref,
            access_id=access_id,
            access_pass=access_pass,
            job_cd=job_cd,
            amount=amount,
            pay_method=pay_method,
        )
        return {"AccessID": access_id, "AccessPass": access_pass}, stored
