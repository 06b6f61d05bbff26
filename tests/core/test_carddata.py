"""Card numbers are masked in whatever form a person writes them; other numbers are left."""

import pytest

from kessai.core.carddata import mask_pan


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("card 4111111111111111 used", "card ************1111 used"),
        ("card 4111 1111 1111 1111 used", "card **** **** **** 1111 used"),
        ("4111-1111-1111-1111", "****-****-****-1111"),
        ("amex 3782 822463 10005", "amex **** ****** *0005"),
        ("token=4111111111111111&x=1", "token=************1111&x=1"),
    ],
)
def test_card_numbers_are_masked_however_they_are_grouped(text: str, masked: str) -> None:
    assert mask_pan(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "order 4111111111111112",  # fails the Luhn check: an order number, not a card
        "tel 03-1234-5678",
        "2026-12-07 01:00:00",
        "amount 1000 tax 100",
        "OrderID 20261207-000123-1",
        "ref 4111-111111111111",  # not a card's grouping
        "ref 411111-1111-1111-11",
        "request_id=6f466ea005b2975123087331b60807b0",  # a hex id, Luhn-valid digits inside
        "sha 4111111111111111deadbeef",
    ],
)
def test_other_numbers_are_left_alone(text: str) -> None:
    assert mask_pan(text) == text
