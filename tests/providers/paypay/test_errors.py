"""Every result code kessai names is in PayPay's own error tables (the official OpenAPI
spec, anchors/paypay, "Error handling"), with the HTTP status PayPay gives it."""

import json
import re
from pathlib import Path

import pytest

from kessai.providers.paypay import errors

ANCHORS = Path(__file__).resolve().parents[4] / "shared" / "anchors" / "paypay"
SPEC = ANCHORS / "paypay-opa-openapi.json"
ROW = re.compile(r"^\|\s*(\d{3})\s*\|\s*([A-Z_]+)\s*\|", re.MULTILINE)


def _published() -> set[tuple[int, str]]:
    if not SPEC.exists():
        pytest.skip(f"anchors not present: {SPEC}")
    tags = json.loads(SPEC.read_text())["tags"]
    texts = (t.get("description", "") for t in tags)
    table = next(text for text in texts if "Response code list" in text)
    return {(int(status), code) for status, code in ROW.findall(table)}


def test_each_code_is_published_with_its_status() -> None:
    published = _published()
    missing = {
        code for code, known in errors.CODES.items() if (known.status, code) not in published
    }
    assert missing == set()


def test_the_one_code_paypay_says_to_retry_later_is_not_final() -> None:
    # "Rejected refund request as similar request is in progress, you can retry after 1 minute."
    assert not errors.is_final_decline("THROTTLED_MULTIPLE_REFUND_REJECTED")
    assert errors.handling("RATE_LIMIT", 429) is errors.Handling.RETRY
    # "User should be guided to use a different paymentMethod."
    assert errors.is_final_decline("PAY_METHOD_INVALIDATED")
