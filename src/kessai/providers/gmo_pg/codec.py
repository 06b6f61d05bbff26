"""The idPass wire format: CP932 form posts in, `K=V&K=V` raw CP932 text out.

Facts that trip up clients (GMO's own module and recordings):
- requests are application/x-www-form-urlencoded in CP932 (Windows-31J); `shift_jis`
  cannot encode ～ nor decode ①;
- responses are NOT URL-encoded: split on `&`, then on the first `=`; a URL value such as
  RedirectUrl or Tds2ChallengeUrl may itself carry `&` and `=`;
- several errors come pipe-joined in parallel: ErrCode=E01|E01&ErrInfo=E01050002|E01060006,
  and multi-record searches are pipe-joined the same way;
- every response is HTTP 200, errors included.
"""

import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode

ENCODING = "cp932"
CONTENT_TYPE = "application/x-www-form-urlencoded; charset=Windows-31J"
RESPONSE_CONTENT_TYPE = "text/plain;charset=Windows-31J"

# Response keys are CamelCase words starting upper-case (ACS, AccessID, Tds2TransID …);
# a segment that does not look like one belongs to the URL value before it.
_KEY = re.compile(r"[A-Z][A-Za-z0-9_]*")


def encode_request(params: Mapping[str, object]) -> bytes:
    """Form-encode in CP932; None is sent as an empty value, as GMO's own module does."""
    pairs = [(k, "" if v is None else str(v)) for k, v in params.items()]
    return urlencode(pairs, encoding=ENCODING).encode("ascii")


def decode_request(body: bytes) -> dict[str, str]:
    """What a simulator reads: a CP932 form body (the last value of a repeated key wins)."""
    text = body.decode("ascii", errors="replace")
    return dict(parse_qsl(text, keep_blank_values=True, encoding=ENCODING, errors="replace"))


def parse_response(body: bytes | str) -> dict[str, str]:
    """Split on `&`, then on the first `=`; never URL-decode."""
    text = body.decode(ENCODING, errors="replace") if isinstance(body, bytes) else body
    result: dict[str, str] = {}
    last: str | None = None
    for segment in text.strip("\r\n").split("&"):
        key, sep, value = segment.partition("=")
        if sep and _KEY.fullmatch(key) and key not in result:
            result[key] = value
            last = key
        elif last is not None:
            result[last] += "&" + segment  # part of the URL value before it
        elif segment:
            result[segment] = ""
    return result


def encode_response(pairs: Iterable[tuple[str, object]]) -> bytes:
    """What GMO sends back: raw `K=V&K=V` in CP932, no URL-encoding."""
    text = "&".join(f"{k}={'' if v is None else v}" for k, v in pairs)
    return text.encode(ENCODING, errors="replace")


def split_multi(value: str | None) -> list[str]:
    """Pipe-joined parallel values (errors, multi-record searches)."""
    return [] if not value else value.split("|")


def errors_of(fields: Mapping[str, str]) -> list[tuple[str, str]]:
    """(ErrCode, ErrInfo) pairs of a response; empty when it succeeded."""
    return list(
        zip(split_multi(fields.get("ErrCode")), split_multi(fields.get("ErrInfo")), strict=False)
    )
