"""Account secrets at rest: AES-256-GCM tokens, master keys, rotation (core.crypto, keyring)."""

import base64
import hashlib
import os
import pickle
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kessai.core.crypto import (
    Keyring,
    SecretBox,
    SecretUndecryptable,
    generate_key,
    key_id,
    parse_key,
    rotate,
    token_key_id,
)
from kessai.core.errors import ConfigurationError, KessaiError
from kessai.core.keyring import (
    ensure_sandbox_key_file,
    load_keyring,
    load_master_key,
    load_secret_box,
)
from kessai.core.settings import Env, Settings

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
KEY_C = bytes(range(200, 232))
CTX = "provider_account:12:shop_pass"
PASSWORD = "ショップパスワード-s3cr3t"
TOKEN_SHAPE = re.compile(r"ks1:[0-9a-f]{8}:[A-Za-z0-9_-]+")


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(KEY_A)


def b64url_decode(body: str) -> bytes:
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def undecryptable(exc: pytest.ExceptionInfo[SecretUndecryptable], secret: str) -> None:
    """What a person reading the error sees: the stable code, Japanese, no secret."""
    assert isinstance(exc.value, KessaiError)
    assert exc.value.code == "secret_undecryptable"
    assert "復号できません" in exc.value.message
    assert secret not in exc.value.message
    assert secret not in str(exc.value.detail)


# --- round trip and token format --------------------------------------------------------


@pytest.mark.parametrize(
    "plaintext",
    [PASSWORD, "", "p@ss:word/with=colons", "改行\nと\tタブ", "😀" * 500],
    ids=["japanese", "empty", "punctuation", "control", "long"],
)
def test_text_round_trips(box: SecretBox, plaintext: str) -> None:
    token = box.encrypt(plaintext, context=CTX)
    assert box.decrypt_text(token, context=CTX) == plaintext
    assert box.decrypt(token, context=CTX) == plaintext.encode()


def test_bytes_round_trip_including_empty(box: SecretBox) -> None:
    pem = b"-----BEGIN PRIVATE KEY-----\n\x00\xff\xfe binary \x80\n"
    assert box.decrypt(box.encrypt(pem, context=CTX), context=CTX) == pem
    assert box.decrypt(box.encrypt(b"", context=CTX), context=CTX) == b""


def test_token_is_self_describing_text_without_the_plaintext(box: SecretBox) -> None:
    token = box.encrypt(PASSWORD, context=CTX)
    assert TOKEN_SHAPE.fullmatch(token)
    assert token.split(":")[1] == hashlib.sha256(KEY_A).hexdigest()[:8] == box.key_id
    assert token_key_id(token) == box.key_id
    assert PASSWORD not in token
    assert "s3cr3t" not in token
    # 12-byte nonce + ciphertext (as long as the plaintext) + 16-byte tag
    assert len(b64url_decode(token.split(":")[2])) == 12 + len(PASSWORD.encode()) + 16


def test_the_same_plaintext_twice_gives_different_tokens_and_nonces(box: SecretBox) -> None:
    tokens = [box.encrypt("same", context=CTX) for _ in range(50)]
    assert len(set(tokens)) == 50
    nonces = {b64url_decode(t.split(":")[2])[:12] for t in tokens}
    assert len(nonces) == 50
    assert {box.decrypt_text(t, context=CTX) for t in tokens} == {"same"}


def test_bytes_that_are_not_utf8_are_refused_as_text(box: SecretBox) -> None:
    token = box.encrypt(b"\xff\xfe", context=CTX)
    with pytest.raises(SecretUndecryptable) as exc:
        box.decrypt_text(token, context=CTX)
    assert exc.value.code == "secret_undecryptable"


# --- what must not decrypt --------------------------------------------------------------


def test_a_token_copied_to_another_field_or_row_does_not_decrypt(box: SecretBox) -> None:
    token = box.encrypt(PASSWORD, context="provider_account:12:shop_pass")
    for other in ["provider_account:12:site_pass", "provider_account:13:shop_pass", ""]:
        with pytest.raises(SecretUndecryptable) as exc:
            box.decrypt(token, context=other)
        undecryptable(exc, PASSWORD)
        assert exc.value.detail["context"] == other


def test_another_master_key_is_a_clear_error_naming_both_key_ids(box: SecretBox) -> None:
    token = box.encrypt(PASSWORD, context=CTX)
    other = SecretBox(KEY_B)
    with pytest.raises(SecretUndecryptable) as exc:
        other.decrypt(token, context=CTX)
    undecryptable(exc, PASSWORD)
    assert box.key_id in exc.value.message
    assert other.key_id in exc.value.message
    assert "KESSAI_SECRET_KEY" in exc.value.message


def test_a_wrong_key_behind_a_matching_key_id_is_caught_by_the_tag(box: SecretBox) -> None:
    # Someone rewrote the key id to the current key's: the ciphertext still does not open.
    token = SecretBox(KEY_B).encrypt(PASSWORD, context=CTX)
    forged = ":".join(["ks1", box.key_id, token.split(":")[2]])
    with pytest.raises(SecretUndecryptable) as exc:
        box.decrypt(forged, context=CTX)
    undecryptable(exc, PASSWORD)
    assert "マスターキーが一致しないか、データが破損しています" in exc.value.message


def test_changing_any_character_of_a_token_makes_it_undecryptable(box: SecretBox) -> None:
    token = box.encrypt(PASSWORD, context=CTX)
    for i, ch in enumerate(token):
        for replacement in {"A", "b", "0", "-", ":"} - {ch}:
            tampered = token[:i] + replacement + token[i + 1 :]
            with pytest.raises(SecretUndecryptable):
                box.decrypt(tampered, context=CTX)


def test_changing_any_byte_of_nonce_ciphertext_or_tag_is_detected(box: SecretBox) -> None:
    token = box.encrypt(PASSWORD, context=CTX)
    head, body = token.rsplit(":", 1)
    blob = b64url_decode(body)
    for i in range(len(blob)):
        flipped = blob[:i] + bytes([blob[i] ^ 0x01]) + blob[i + 1 :]
        with pytest.raises(SecretUndecryptable) as exc:
            box.decrypt(f"{head}:{b64url_encode(flipped)}", context=CTX)
        undecryptable(exc, PASSWORD)


@pytest.mark.parametrize(
    "make_bad",
    [
        lambda t: "",
        lambda t: "hunter2",  # a plaintext left in the column
        lambda t: "ks1",
        lambda t: "ks1::",
        lambda t: t.replace("ks1:", "ks2:", 1),
        lambda t: t.replace("ks1:", "KS1:", 1),
        lambda t: t + ":extra",
        lambda t: t + "=",  # padding is not part of the format
        lambda t: t + "\n",
        lambda t: " " + t,
        lambda t: t[:-10],  # truncated
        lambda t: ":".join(t.split(":")[:2]) + ":" + b64url_encode(b"\x00" * 27),  # too short
        lambda t: t.replace(t.split(":")[1], t.split(":")[1].upper(), 1),
        lambda t: t.replace(t.split(":")[1], t.split(":")[1][:7], 1),
        lambda t: t[:20] + "+/" + t[22:],  # standard base64 alphabet
    ],
)
def test_malformed_tokens_are_undecryptable_not_crashes(
    box: SecretBox, make_bad: Callable[[str], str]
) -> None:
    token = box.encrypt(PASSWORD, context=CTX)
    bad = make_bad(token)
    assert bad != token
    with pytest.raises(SecretUndecryptable) as exc:
        box.decrypt(bad, context=CTX)
    undecryptable(exc, PASSWORD)


def test_a_non_canonical_base64_spelling_is_refused(box: SecretBox) -> None:
    # With 29 bytes the last base64url character carries 4 unused bits: another spelling
    # decodes to the same bytes, and must not pass for the original.
    token = box.encrypt("x", context=CTX)
    body = token.rsplit(":", 1)[1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(body[-1])
    sibling = body[:-1] + alphabet[last ^ 0b0001]
    assert b64url_decode(sibling) == b64url_decode(body)
    with pytest.raises(SecretUndecryptable):
        box.decrypt(token.rsplit(":", 1)[0] + ":" + sibling, context=CTX)


# --- keys ------------------------------------------------------------------------------


def test_generated_keys_are_32_random_bytes_in_base64() -> None:
    keys = {generate_key() for _ in range(20)}
    assert len(keys) == 20
    for key in keys:
        assert len(base64.b64decode(key, validate=True)) == 32
        assert len(parse_key(key)) == 32


@pytest.mark.parametrize(
    "text",
    [
        base64.b64encode(KEY_B).decode(),
        base64.b64encode(KEY_B).decode().rstrip("="),
        base64.urlsafe_b64encode(KEY_B).decode(),
        KEY_B.hex(),
        KEY_B.hex().upper(),
        "  " + KEY_B.hex() + "\n",
    ],
    ids=["base64", "unpadded", "urlsafe", "hex", "HEX", "whitespace"],
)
def test_keys_parse_from_base64_or_hex(text: str) -> None:
    assert parse_key(text) == KEY_B
    assert SecretBox.from_text(text).key_id == key_id(KEY_B)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "空です"),
        ("   \n", "空です"),
        (base64.b64encode(b"k" * 16).decode(), "長さが正しくありません (16バイト)"),
        (base64.b64encode(b"k" * 33).decode(), "長さが正しくありません (33バイト)"),
        ("ab" * 31, "長さが正しくありません"),  # 62 hex digits = 31 bytes
        ("ab" * 33, "長さが正しくありません"),
        ("correct horse battery staple!!", "形式が正しくありません"),
        ("zz" * 32, "長さが正しくありません"),  # not hex; as base64 it is 48 bytes
        ("ÄÖÜ" * 15, "形式が正しくありません"),
        ("QUJD=RA==", "形式が正しくありません"),
    ],
)
def test_bad_keys_are_refused_in_japanese_without_echoing_them(text: str, expected: str) -> None:
    with pytest.raises(ConfigurationError) as exc:
        parse_key(text, source="KESSAI_SECRET_KEY")
    assert expected in exc.value.message
    assert "KESSAI_SECRET_KEY" in exc.value.message
    if text.strip():
        assert text.strip() not in exc.value.message


def test_a_box_needs_exactly_32_bytes() -> None:
    with pytest.raises(ConfigurationError):
        SecretBox(b"short")


def test_repr_and_str_show_only_the_key_id(box: SecretBox) -> None:
    ring = Keyring(box, [SecretBox(KEY_B)])
    for shown in [repr(box), str(box), repr(ring), str(ring), f"{box} {ring!r}"]:
        for key in (KEY_A, KEY_B):
            assert key.hex() not in shown.lower()
            assert base64.b64encode(key).decode() not in shown
            assert base64.urlsafe_b64encode(key).decode() not in shown
    assert repr(box) == f"SecretBox(key_id='{key_id(KEY_A)}')"
    assert key_id(KEY_B) in repr(ring)
    with pytest.raises(TypeError):
        pickle.dumps(box)
    with pytest.raises(TypeError):
        pickle.dumps(ring)


# --- where the key comes from -----------------------------------------------------------


def test_settings_read_the_key_sources_and_never_show_the_key() -> None:
    key, old = generate_key(), generate_key()
    s = Settings.from_env(
        {
            "KESSAI_SECRET_KEY": f" {key}\n",
            "KESSAI_SECRET_KEY_FILE": "/run/secrets/kessai",
            "KESSAI_SECRET_KEY_PREVIOUS": f"{old}, {KEY_C.hex()}",
        }
    )
    assert s.secret_key == key
    assert s.secret_key_file == Path("/run/secrets/kessai")
    assert s.previous_secret_keys == (old, KEY_C.hex())
    assert key not in repr(s)
    assert old not in repr(s)
    empty = Settings.from_env({"KESSAI_SECRET_KEY": "  ", "KESSAI_SECRET_KEY_FILE": ""})
    assert (empty.secret_key, empty.secret_key_file, empty.previous_secret_keys) == (None, None, ())


def test_the_key_from_the_environment(tmp_path: Path) -> None:
    for env in (Env.SANDBOX, Env.PRODUCTION):
        s = Settings(env=env, secret_key=base64.b64encode(KEY_B).decode())
        assert load_master_key(s, sandbox_key_file=tmp_path / "unused.key") == KEY_B
    assert not (tmp_path / "unused.key").exists()


def test_the_key_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "kessai.key"
    path.write_text(KEY_B.hex() + "\n")
    s = Settings(env=Env.PRODUCTION, secret_key_file=path)
    assert load_secret_box(s).key_id == key_id(KEY_B)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "見つかりません"),
        (b"", "空です"),
        (b"not a key at all", "形式が正しくありません"),
        (b"\xff\xfe\x00", "形式が正しくありません"),
        (base64.b64encode(b"x" * 24), "長さが正しくありません"),
    ],
)
def test_a_bad_key_file_is_a_japanese_configuration_error(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    path = tmp_path / "kessai.key"
    if content is not None:
        path.write_bytes(content)
    s = Settings(env=Env.SANDBOX, secret_key_file=path)
    with pytest.raises(ConfigurationError) as exc:
        load_master_key(s, sandbox_key_file=tmp_path / "sandbox.key")
    assert expected in exc.value.message
    assert str(path) in exc.value.message
    # A configured file that is missing is an error, even in the sandbox: never replaced.
    assert not path.exists() or path.read_bytes() == content
    assert not (tmp_path / "sandbox.key").exists()


def test_both_sources_at_once_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kessai.key"
    path.write_text(generate_key())
    s = Settings(secret_key=generate_key(), secret_key_file=path)
    with pytest.raises(ConfigurationError) as exc:
        load_master_key(s)
    assert "どちらか一方" in exc.value.message


def test_the_sandbox_generates_a_0600_key_file_once(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secret.key"
    old_umask = os.umask(0)  # the most permissive umask still gives 0600
    try:
        first = load_master_key(Settings(env=Env.SANDBOX), sandbox_key_file=path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert parse_key(path.read_text()) == first
    content = path.read_bytes()
    assert load_master_key(Settings(env=Env.SANDBOX), sandbox_key_file=path) == first
    assert ensure_sandbox_key_file(path) == first
    assert path.read_bytes() == content
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no temporary left


def test_the_sandbox_default_is_var_secret_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    box = load_secret_box(Settings(env=Env.SANDBOX))
    path = tmp_path / "var" / "secret.key"
    assert box.key_id == key_id(parse_key(path.read_text()))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_production_without_a_key_refuses_to_start_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for load in (load_master_key, load_secret_box, load_keyring):
        with pytest.raises(ConfigurationError) as exc:
            load(Settings(env=Env.PRODUCTION))
        assert (
            "本番環境(KESSAI_ENV=production)ではマスターキーの設定が必要です" in exc.value.message
        )
        assert "KESSAI_SECRET_KEY" in exc.value.message
        assert "KESSAI_SECRET_KEY_FILE" in exc.value.message
    assert list(tmp_path.iterdir()) == []


def test_load_keyring_opens_previous_keys_and_seals_with_the_current(tmp_path: Path) -> None:
    old_token = SecretBox(KEY_A).encrypt(PASSWORD, context=CTX)
    s = Settings(
        env=Env.PRODUCTION,
        secret_key=KEY_B.hex(),
        previous_secret_keys=(base64.b64encode(KEY_A).decode(),),
    )
    ring = load_keyring(s)
    assert ring.key_ids == (key_id(KEY_B), key_id(KEY_A))
    assert ring.decrypt_text(old_token, context=CTX) == PASSWORD
    assert token_key_id(ring.encrypt(PASSWORD, context=CTX)) == key_id(KEY_B)
    with pytest.raises(ConfigurationError) as exc:
        load_keyring(Settings(secret_key=KEY_B.hex(), previous_secret_keys=("nope",)))
    assert "KESSAI_SECRET_KEY_PREVIOUS (1番目)" in exc.value.message


def test_a_keyring_without_the_sealing_key_names_the_missing_key_id() -> None:
    token = SecretBox(KEY_C).encrypt(PASSWORD, context=CTX)
    ring = Keyring(SecretBox(KEY_A), [SecretBox(KEY_B)])
    with pytest.raises(SecretUndecryptable) as exc:
        ring.decrypt(token, context=CTX)
    undecryptable(exc, PASSWORD)
    assert key_id(KEY_C) in exc.value.message


# --- rotation ---------------------------------------------------------------------------

SECRETS = {f"provider_account:{i}:shop_pass": f"パスワード{i}" for i in range(1, 6)}


def sealed(box: SecretBox) -> list[tuple[str, str]]:
    return [(ctx, box.encrypt(value, context=ctx)) for ctx, value in SECRETS.items()]


def test_rotation_reseals_everything_under_the_new_key() -> None:
    old, new = SecretBox(KEY_A), SecretBox(KEY_B)
    rotated = rotate(old, new, iter(sealed(old)))  # any iterable, e.g. rows streamed
    assert [ctx for ctx, _ in rotated] == list(SECRETS)
    for ctx, token in rotated:
        assert token_key_id(token) == new.key_id
        assert new.decrypt_text(token, context=ctx) == SECRETS[ctx]
        with pytest.raises(SecretUndecryptable):
            old.decrypt(token, context=ctx)


def test_rotation_is_all_or_nothing_and_names_every_failing_field() -> None:
    old, new = SecretBox(KEY_A), SecretBox(KEY_B)
    rows = sealed(old)
    ctx2, tok2 = rows[2]
    rows[2] = (ctx2, tok2[:-4] + ("AAAA" if not tok2.endswith("AAAA") else "BBBB"))  # damaged
    stranger = SecretBox(KEY_C).encrypt("他人の鍵", context="provider_account:9:shop_pass")
    rows.append(("provider_account:9:shop_pass", stranger))  # sealed by an unknown key
    with pytest.raises(SecretUndecryptable) as exc:
        rotate(old, new, rows)
    assert "何も変更していません" in exc.value.message
    assert "2件" in exc.value.message
    assert exc.value.detail["failed_contexts"] == [ctx2, "provider_account:9:shop_pass"]
    for value in [*SECRETS.values(), "他人の鍵"]:
        assert value not in exc.value.message
        assert value not in str(exc.value.detail)


def test_rotation_with_the_wrong_old_key_changes_nothing() -> None:
    rows = sealed(SecretBox(KEY_A))
    with pytest.raises(SecretUndecryptable) as exc:
        rotate(SecretBox(KEY_C), SecretBox(KEY_B), rows)
    assert exc.value.detail["failed_contexts"] == list(SECRETS)
    assert key_id(KEY_C) in exc.value.message


def test_a_rotation_stopped_half_way_can_be_run_again() -> None:
    old, new = SecretBox(KEY_A), SecretBox(KEY_B)
    rows = sealed(old)
    half = rotate(old, new, rows[:2]) + rows[2:]  # the first two were written, then a crash
    again = rotate(old, new, half)
    assert again[:2] == half[:2]  # already under the new key: checked and kept
    assert all(token_key_id(t) == new.key_id for _, t in again)
    assert {ctx: new.decrypt_text(t, context=ctx) for ctx, t in again} == SECRETS
    assert rotate(old, new, again) == again  # a third run has nothing to do


def test_a_keyring_of_old_keys_rotates_a_mix_of_generations() -> None:
    k1, k2, k3 = SecretBox(KEY_A), SecretBox(KEY_B), SecretBox(KEY_C)
    rows = sealed(k1)[:3] + sealed(k2)[3:]  # an earlier rotation k1 -> k2 never finished
    rotated = rotate(Keyring(k2, [k1]), k3, rows)
    assert {ctx: k3.decrypt_text(t, context=ctx) for ctx, t in rotated} == SECRETS
    # The new key may sit in the keyring too (KESSAI_SECRET_KEY=new, _PREVIOUS=old).
    again = rotate(Keyring(k3, [k2, k1]), k3, rows)
    assert {token_key_id(t) for _, t in again} == {k3.key_id}
    assert {ctx: k3.decrypt_text(t, context=ctx) for ctx, t in again} == SECRETS


def test_a_tampered_token_already_under_the_new_key_still_fails_rotation() -> None:
    old, new = SecretBox(KEY_A), SecretBox(KEY_B)
    ctx = "provider_account:1:shop_pass"
    forged = ":".join(["ks1", new.key_id, old.encrypt("x", context=ctx).split(":")[2]])
    with pytest.raises(SecretUndecryptable) as exc:
        rotate(old, new, [(ctx, forged)])
    assert exc.value.detail["failed_contexts"] == [ctx]


# --- properties -------------------------------------------------------------------------

contexts = st.text(max_size=60)


@settings(deadline=None, max_examples=200)
@given(plaintext=st.binary(max_size=512), context=contexts)
def test_any_bytes_under_any_context_round_trip(plaintext: bytes, context: str) -> None:
    box = SecretBox(KEY_A)
    token = box.encrypt(plaintext, context=context)
    assert TOKEN_SHAPE.fullmatch(token)
    assert box.decrypt(token, context=context) == plaintext
    assert Keyring(SecretBox(KEY_B), [box]).decrypt(token, context=context) == plaintext


@settings(deadline=None, max_examples=200)
@given(plaintext=st.text(max_size=200), context=contexts)
def test_any_text_round_trips(plaintext: str, context: str) -> None:
    box = SecretBox(KEY_A)
    assert box.decrypt_text(box.encrypt(plaintext, context=context), context=context) == plaintext


@settings(deadline=None, max_examples=300)
@given(plaintext=st.binary(max_size=256), context=contexts, data=st.data())
def test_any_single_byte_corruption_never_decrypts(
    plaintext: bytes, context: str, data: st.DataObject
) -> None:
    box = SecretBox(KEY_A)
    head, body = box.encrypt(plaintext, context=context).rsplit(":", 1)
    blob = bytearray(b64url_decode(body))
    i = data.draw(st.integers(0, len(blob) - 1), label="byte")
    blob[i] ^= data.draw(st.integers(1, 255), label="xor")
    with pytest.raises(SecretUndecryptable):
        box.decrypt(f"{head}:{b64url_encode(bytes(blob))}", context=context)


@settings(deadline=None, max_examples=300)
@given(plaintext=st.binary(max_size=64), data=st.data())
def test_any_single_character_change_never_decrypts(plaintext: bytes, data: st.DataObject) -> None:
    box = SecretBox(KEY_A)
    token = box.encrypt(plaintext, context=CTX)
    i = data.draw(st.integers(0, len(token) - 1), label="position")
    ch = data.draw(st.characters(codec="utf-8").filter(lambda c: c != token[i]), label="char")
    with pytest.raises(SecretUndecryptable):
        box.decrypt(token[:i] + ch + token[i + 1 :], context=CTX)


@settings(deadline=None, max_examples=100)
@given(plaintext=st.binary(max_size=64), a=contexts, b=contexts)
def test_a_token_opens_only_under_its_own_context(plaintext: bytes, a: str, b: str) -> None:
    box = SecretBox(KEY_A)
    token = box.encrypt(plaintext, context=a)
    if a == b:
        assert box.decrypt(token, context=b) == plaintext
    else:
        with pytest.raises(SecretUndecryptable):
            box.decrypt(token, context=b)
