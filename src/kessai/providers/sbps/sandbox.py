"""The simulator's test account (SBPS's public sandbox values of the recordings) and cards."""

TEST_MERCHANT_ID = "30132"
TEST_SERVICE_ID = "002"
TEST_BASIC_ID = "30132002"
TEST_BASIC_PASSWORD = "8435dbd48f2249807ec216c3d5ecab714264cc4a"  # noqa: S105 - public sandbox
TEST_HASH_KEY = "8435dbd48f2249807ec216c3d5ecab714264cc4a"
# The simulator's account takes pay_method_info 3DES-encrypted (its own key: the recordings'
# sandbox sent plain text, and real keys are issued per merchant).
TEST_ENCRYPTION_KEY = "kessaiSimulator3DESKey24"
TEST_ENCRYPTION_IV = "kessaiIV"

SUCCESS_CARD = "4111111111111111"
SOFT_DECLINE_CARD = "4000000000000028"  # 10142001: 残高・利用可能枠不足
HARD_DECLINE_CARD = "4000000000000655"  # 10143001: カード番号誤り
DECLINES = {SOFT_DECLINE_CARD: "10142001", HARD_DECLINE_CARD: "10143001"}
