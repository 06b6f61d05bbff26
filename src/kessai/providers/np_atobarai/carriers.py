"""配送業者名 → NP後払いの配送業者コード (pd_company_code).

The codes are NP's (FACTS.md lists them); the names are how a shop writes its carrier on an
order. An account may add or replace names with its 配送業者コード setting,
`配送業者名=コード` pairs separated by commas (or lines), so a shop that writes its own
carrier's name maps it once.
"""

import re
from collections.abc import Mapping

# NP's codes, each with the carrier's usual names.
CODES: dict[str, str] = {
    "50000": "佐川急便",
    "59010": "ヤマト運輸",
    "59020": "日本通運",
    "59030": "西濃運輸",
    "59040": "日本郵便(書留等)",
    "59041": "日本郵便(ゆうパック)",
    "59042": "日本郵便(翌朝10時郵便)",
    "59043": "日本郵便(ゆうパケット)",
    "59050": "セイノースーパーエクスプレス",
    "59060": "福山通運",
    "59080": "新潟運輸",
    "59090": "名鉄運輸",
    "59100": "トナミ運輸",
    "59110": "信州名鉄運輸",
    "59140": "トールエクスプレスジャパン",
    "59150": "エコ配",
    "59160": "JAD",
    "55555": "その他(契約配送業者)",
}

DEFAULT_NAMES: dict[str, str] = {
    **{name: code for code, name in CODES.items()},
    "佐川": "50000",
    "ヤマト": "59010",
    "クロネコヤマト": "59010",
    "日通": "59020",
    "西濃": "59030",
    "日本郵便": "59041",
    "ゆうパック": "59041",
    "ゆうパケット": "59043",
    "福山通運": "59060",
}


def parse_overrides(text: str) -> tuple[dict[str, str], list[str]]:
    """`名前=コード` pairs → the mapping, and a Japanese problem per bad pair."""
    mapping: dict[str, str] = {}
    problems: list[str] = []
    for number, raw in enumerate(re.split(r"[\n,、;]", text), start=1):
        line = raw.strip()
        if not line:
            continue
        name, sep, code = (part.strip() for part in line.partition("="))
        if not sep or not name:
            problems.append(f"{number}件目は「配送業者名=コード」の形で書いてください")
        elif code not in CODES:
            problems.append(
                f"{number}件目の配送業者コード「{code[:10]}」はNP後払いのコードではありません"
            )
        else:
            mapping[name] = code
    return mapping, problems


def code_for(carrier: str | None, overrides: Mapping[str, str]) -> str | None:
    """The pd_company_code of a carrier name (or of a code given as is); None if unknown."""
    if not carrier:
        return None
    name = carrier.strip()
    if name in CODES:
        return name
    return overrides.get(name) or DEFAULT_NAMES.get(name)
