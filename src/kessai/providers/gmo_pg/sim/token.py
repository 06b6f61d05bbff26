"""The card token endpoint a storefront calls from the browser, shaped like GMO's token.js.

POST /token (JSON or form): cardno, expire (YYMM or YYYYMM), securitycode, holdername,
tokennumber (1-10), shopid (optional; binds the tokens to that shop). Always HTTP 200:
{"resultCode": "000", "tokenObject": {"token": [...], "toBeExpiredAt": "yyyy-MM-dd-HH-mm",
"maskedCardNo": "411111******1111", "isSecurityCodeSet": true}}, or {"resultCode": "1xx"}
with GMO's token result codes (100 card number missing … 180 unknown shop).
GET /ext/js/token.js serves a small `Multipayment.init(shopId)` / `getToken(card, cb)`
that posts here, so a storefront written for GMO's script works against the simulator.
"""

import json
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

from kessai.core.clock import to_tokyo
from kessai.providers.gmo_pg.sim.config import SimulatorConfig
from kessai.providers.gmo_pg.sim.state import State, StoredCard

_DIGITS = re.compile(r"[0-9]+")
_HOLDER = re.compile(r"[0-9A-Za-z ,./-]*")


def parse_body(body: bytes, content_type: str) -> dict[str, str]:
    if "json" in content_type:
        data = json.loads(body or b"{}")
        if not isinstance(data, dict):
            raise ValueError("a JSON object is expected")
        return {str(k): "" if v is None else str(v) for k, v in data.items()}
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def _card_code(cardno: str, expire: str, code: str) -> str | None:
    if not cardno:
        return "100"
    if not _DIGITS.fullmatch(cardno):
        return "101"
    if not 10 <= len(cardno) <= 16:
        return "102"
    if not expire:
        return "110"
    if not _DIGITS.fullmatch(expire):
        return "111"
    if len(expire) not in (4, 6):
        return "112"
    if not 1 <= int(expire[-2:]) <= 12:
        return "113"
    if code and not _DIGITS.fullmatch(code):
        return "121"
    if code and not 3 <= len(code) <= 4:
        return "122"
    return None


def _result_code(form: Mapping[str, str], config: SimulatorConfig) -> str | None:
    """GMO's token result code for the first field that does not pass, in GMO's order."""
    failure = _card_code(
        form.get("cardno", ""), form.get("expire", ""), form.get("securitycode", "")
    )
    if failure:
        return failure
    holder, number, shop_id = (
        form.get("holdername", ""),
        form.get("tokennumber", ""),
        form.get("shopid", ""),
    )
    if not _HOLDER.fullmatch(holder):
        return "131"
    if len(holder) > 50:
        return "132"
    if number and not _DIGITS.fullmatch(number):
        return "141"
    if number and not 1 <= int(number) <= 10:
        return "142"
    if len(shop_id) > 13:
        return "161"
    if shop_id and not (shop_id.isascii() and shop_id.isalnum()):
        return "162"
    if shop_id and shop_id not in config.shops:
        return "180"
    return None


def issue_tokens(form: Mapping[str, str], config: SimulatorConfig, state: State) -> dict[str, Any]:
    failure = _result_code(form, config)
    if failure:
        return {"resultCode": failure}
    expire = form["expire"][-4:]
    card = StoredCard(
        number=form["cardno"],
        expire=expire,
        holder_name=form.get("holdername", ""),
        security_code_set=bool(form.get("securitycode")),
    )
    count = int(form.get("tokennumber") or 1)
    shop_id = form.get("shopid") or None
    tokens = [state.new_token(card, shop_id, config.token_ttl_seconds) for _ in range(count)]
    expires = to_tokyo(state.clock.now() + timedelta(seconds=config.token_ttl_seconds))
    return {
        "resultCode": "000",
        "tokenObject": {
            "token": tokens,
            "toBeExpiredAt": expires.strftime("%Y-%m-%d-%H-%M"),
            "maskedCardNo": card.token_masked(),
            "isSecurityCodeSet": card.security_code_set,
        },
    }


MULTIPAYMENT_JS = """(function () {
  var base = %s, shopId = null;
  window.Multipayment = {
    init: function (id) { shopId = id; },
    getToken: function (card, callback) {
      var body = Object.assign({}, card);
      if (shopId) { body.shopid = shopId; }
      fetch(base + "/token", {
        method: "POST",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify(body)
      }).then(function (r) { return r.json(); }).then(callback);
    }
  };
})();
"""
