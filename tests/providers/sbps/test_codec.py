"""SBPS's wire format against its recordings (recordings/SOURCE.md): every recorded request's
sps_hashcode verifies with the sandbox hash key, kessai's own encoding of the same fields
signs them the same way, and 3DES round-trips with SBPS's space padding."""

from pathlib import Path

import pytest

from kessai.providers.sbps import codec

RECORDINGS = Path(__file__).parent / "recordings"
# The public sandbox account of the recordings (sbpayment.rb's specs).
HASH_KEY = "8435dbd48f2249807ec216c3d5ecab714264cc4a"
REQUESTS = sorted(RECORDINGS.glob("*.request.xml"))


@pytest.mark.parametrize("path", REQUESTS, ids=lambda p: p.name)
def test_every_recorded_hash_code_verifies(path: Path) -> None:
    document = codec.decode(path.read_bytes())
    assert document.root == "sps-api-request"
    assert document.verifies(HASH_KEY)
    assert not document.verifies(HASH_KEY[:-1] + "0")


def test_kessai_signs_the_recorded_authorization_the_same_way() -> None:
    recorded = codec.decode(
        (RECORDINGS / "authorization-and-commit.0.ST01-00111-101.request.xml").read_bytes()
    )
    nodes = [n for n in recorded.nodes if n[0] != "sps_hashcode"]
    encoded = codec.encode("sps-api-request", recorded.api_id, nodes, HASH_KEY)
    again = codec.decode(encoded)
    assert again.get("sps_hashcode") == recorded.get("sps_hashcode")
    assert b"<item_name>aXRlbQ==</item_name>" in encoded  # 「item」 as Base64
    assert again.get("dtls/dtl/dtl_item_name") == "item 1"


def test_responses_and_multibyte_messages_decode() -> None:
    answer = codec.decode(
        (RECORDINGS / "authorization-and-commit.0.ST01-00111-101.response.xml").read_bytes()
    )
    assert answer.get("res_result") == "OK"
    assert answer.get("res_pay_method_info/cardbrand_code") == "V"
    refused = codec.decode((RECORDINGS / "webcvs_notice_response_with_error.xml").read_bytes())
    assert refused.get("res_result") == "NG"
    assert refused.get("res_err_msg") == "エラーメッセージ"


def test_triple_des_round_trip_with_space_padding() -> None:
    key, iv = "123456789012345678901234", "abcdefgh"
    sealed = codec.encrypt("4111111111111111", key, iv)
    assert codec.decrypt(sealed, key, iv) == "4111111111111111"
    assert codec.decrypt(codec.encrypt("テスト 太郎", key, iv), key, iv) == "テスト 太郎"
    with pytest.raises(codec.CodecError):
        codec.decrypt("not base64!", key, iv)


def test_what_is_not_sbps_xml_is_refused() -> None:
    with pytest.raises(codec.CodecError):
        codec.decode(b"<sps-api-request><unclosed></sps-api-request>")
    with pytest.raises(codec.CodecError):
        codec.decode("ｱ".encode() * 3)
