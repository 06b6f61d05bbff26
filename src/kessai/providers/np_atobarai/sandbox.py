"""The simulator's test account, as NP's test environment issues one (SHOP_CODE, SP_CODE,
端末ID), and a buyer it accepts."""

TEST_SHOP_CODE = "akt0000001"
TEST_SP_CODE = "np-sim-sp-code"
TEST_TERMINAL_ID = "kessai-terminal-1"

TEST_BUYER = {
    "customer_name": "後払 花子",
    "zip_code": "150-0001",
    "address": "東京都渋谷区神宮前1-2-3",
    "tel": "03-1234-5678",
    "email": "hanako@example.com",
}
