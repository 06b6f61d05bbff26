"""会員・カード at GMO PG (SiteAPI): kessai keeps MemberID and CardSeq, never a card number.

Cards are registered from a one-time token (SaveCard Token=) or from a finished order
(TradedCard); GMO answers with the masked number only.
"""

import re

from kessai.core.carddata import looks_like_pan
from kessai.core.errors import ConfigurationError
from kessai.providers.gmo_pg import codec, errors
from kessai.providers.gmo_pg.config import GmoPgConfig
from kessai.providers.gmo_pg.http import IdPassClient, Reply
from kessai.providers.transport import TransportError
from kessai.providers.vault import ProviderError, ProviderUnreachable, StoredCard

# GMO: MemberID up to 60 characters of half-width letters, digits and - . _ @
MEMBER_ID = re.compile(r"[A-Za-z0-9._@-]{1,60}")
CARD_SEQ = re.compile(r"[0-9]{1,4}")
MEMBER_NOT_FOUND = "E01390002"
MEMBER_EXISTS = "E01390010"
CARD_NOT_FOUND = "E01240002"


def check_member_id(member_id: str) -> str | None:
    """Why a MemberID cannot be sent, or None."""
    if not MEMBER_ID.fullmatch(member_id):
        return "会員IDは60文字以内の半角英数字と - . _ @ で指定してください"
    return None


def check_token(token: str) -> str | None:
    if not token or len(token) > 512 or not token.isascii() or any(c.isspace() for c in token):
        return "トークンの形式が正しくありません"
    if looks_like_pan(token):
        return (
            "カード番号はトークンとして受け付けません (カード情報はGMO PGのトークンにしてください)"
        )
    return None


def cards_of(member_id: str, fields: dict[str, str]) -> list[StoredCard]:
    """SearchCard's pipe-joined parallel records (one per card) as StoredCards."""
    seqs = codec.split_multi(fields.get("CardSeq"))

    def column(key: str) -> list[str]:
        values = codec.split_multi(fields.get(key))
        return values + [""] * (len(seqs) - len(values))

    names = ("DefaultFlag", "CardNo", "Expire", "HolderName", "DeleteFlag", "Brand")
    default, number, expire, holder, deleted, brand = (column(n) for n in names)
    return [
        StoredCard(
            member_id=member_id,
            card_seq=seq,
            masked_number=number[i],
            expire=expire[i],
            holder=holder[i] or None,
            brand=brand[i] or None,
            default=default[i] == "1",
            deleted=deleted[i] == "1",
        )
        for i, seq in enumerate(seqs)
    ]


class CardVaultMixin:
    """kessai.providers.vault.CardVault for GmoPgConnector."""

    config: GmoPgConfig
    _client: IdPassClient

    def _site(self) -> dict[str, object]:
        if not self.config.has_site:
            raise ConfigurationError(
                "GMO PGのサイトID・サイトパスワードが設定されていないため、"
                "会員・カードを扱えません",
                code="gmo_pg_site_missing",
            )
        return {"SiteID": self.config.site_id, "SitePass": self.config.site_pass}

    async def _site_call(self, api: str, params: dict[str, object], *, ref: str) -> Reply:
        try:
            reply = await self._client.call(api, params, ref=ref)
        except TransportError as exc:
            raise ProviderUnreachable(exc.reason) from None
        return reply

    @staticmethod
    def _raise_for(reply: Reply, *, ignore: tuple[str, ...] = ()) -> None:
        infos = [i for i in reply.infos if i not in ignore]
        if not infos:
            return
        message = errors.message_for(infos)
        kinds = {errors.handling(i) for i in infos}
        if errors.Handling.DECLINED not in kinds:  # rate limited or unknown: not a refusal
            raise ProviderUnreachable(f"{'|'.join(infos)}: {message}")
        raise ProviderError("|".join(infos), message)

    @staticmethod
    def _member(member_id: str) -> None:
        problem = check_member_id(member_id)
        if problem:
            raise ProviderError("invalid_member_id", problem)

    async def save_member(self, member_id: str, name: str | None = None) -> None:
        """SaveMember; a member that already exists is updated (a retry after a lost
        answer must not fail)."""
        self._member(member_id)
        params: dict[str, object] = {"MemberID": member_id}
        if name:
            params["MemberName"] = name
        params.update(self._site())
        reply = await self._site_call("SaveMember", params, ref=member_id)
        if MEMBER_EXISTS in reply.infos and len(reply.infos) == 1:
            if not name:
                return
            reply = await self._site_call("UpdateMember", params, ref=member_id)
        self._raise_for(reply)

    async def find_member(self, member_id: str) -> bool:
        self._member(member_id)
        reply = await self._site_call(
            "SearchMember", {"MemberID": member_id, **self._site()}, ref=member_id
        )
        if reply.infos == [MEMBER_NOT_FOUND]:
            return False
        self._raise_for(reply)
        return reply.get("DeleteFlag") != "1"

    async def delete_member(self, member_id: str) -> None:
        """DeleteMember; an already deleted member counts as deleted."""
        self._member(member_id)
        reply = await self._site_call(
            "DeleteMember", {"MemberID": member_id, **self._site()}, ref=member_id
        )
        self._raise_for(reply, ignore=(MEMBER_NOT_FOUND,))

    async def save_card(self, member_id: str, token: str) -> StoredCard:
        """SaveCard with a one-time token, then SearchCard for its expiry."""
        self._member(member_id)
        problem = check_token(token)
        if problem:
            raise ProviderError("invalid_token", problem)
        params = {"MemberID": member_id, "Token": token, **self._site()}
        reply = await self._site_call("SaveCard", params, ref=member_id)
        self._raise_for(reply)
        return await self._registered(member_id, reply)

    async def search_cards(self, member_id: str) -> list[StoredCard]:
        """Every card of the member (SeqMode 0: logical numbering, deleted ones flagged)."""
        self._member(member_id)
        params = {"MemberID": member_id, "SeqMode": "0", **self._site()}
        reply = await self._site_call("SearchCard", params, ref=member_id)
        if reply.infos == [CARD_NOT_FOUND]:
            return []
        self._raise_for(reply)
        return cards_of(member_id, reply.fields)

    async def delete_card(self, member_id: str, card_seq: str) -> None:
        self._member(member_id)
        if not CARD_SEQ.fullmatch(card_seq):
            raise ProviderError("invalid_card_seq", "カード登録連番は数字で指定してください")
        params = {"MemberID": member_id, "CardSeq": card_seq, **self._site()}
        reply = await self._site_call("DeleteCard", params, ref=member_id)
        self._raise_for(reply)

    async def traded_card(self, reference: str, member_id: str) -> StoredCard:
        """TradedCard: register the card an order was paid with to the member."""
        self._member(member_id)
        params = {
            "OrderID": reference,
            "MemberID": member_id,
            "ShopID": self.config.shop_id,
            "ShopPass": self.config.shop_pass,
            **self._site(),
        }
        reply = await self._site_call("TradedCard", params, ref=reference)
        self._raise_for(reply)
        return await self._registered(member_id, reply)

    async def _registered(self, member_id: str, reply: Reply) -> StoredCard:
        """The card just registered; its expiry comes from SearchCard when GMO answers."""
        seq = reply.get("CardSeq") or ""
        card = StoredCard(member_id, seq, masked_number=reply.get("CardNo") or "", expire="")
        try:
            params = {"MemberID": member_id, "SeqMode": "0", "CardSeq": seq, **self._site()}
            found = await self._site_call("SearchCard", params, ref=member_id)
        except ProviderUnreachable:
            return card  # registered all the same; the expiry is filled on the next search
        cards = cards_of(member_id, found.fields) if found.ok else []
        return cards[0] if cards else card
