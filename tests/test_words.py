"""The product speaks as kessai: no other product's name and no 弊社 in anything it ships
(screens, mails, field descriptions, provider message tables)."""

from pathlib import Path

import kessai

FORBIDDEN = ("ecforce", "弊社", "makeshop")
SHIPPED = {".py", ".html", ".txt", ".tsv", ".css", ".csv", ".json"}


def test_no_other_products_name_in_what_kessai_ships() -> None:
    root = Path(kessai.__file__).parent
    found = []
    for path in root.rglob("*"):
        if path.suffix not in SHIPPED or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace").lower()
        found += [f"{path.relative_to(root)}: {word}" for word in FORBIDDEN if word in text]
    assert found == []
