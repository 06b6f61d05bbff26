"""Amazon Pay API v2 request signing: AMZN-PAY-RSASSA-PSS and AMZN-PAY-RSASSA-PSS-V2.

The canonical request is AWS Signature Version 4's shape: method, canonical URI, canonical
query, the signed headers (lower-case name:trimmed value), their names joined by ";", and the
hex SHA-256 of the body. The string to sign is the algorithm, a newline and the hex SHA-256
of the canonical request. The signature is RSASSA-PSS over SHA-256 (MGF1 SHA-256) with salt
length 20 (AMZN-PAY-RSASSA-PSS) or 32 (-V2), base64 encoded. Checked against the SDK's own
vectors (../shared/anchors/amazon-pay/testdata.js).
"""

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PSS = "AMZN-PAY-RSASSA-PSS"
PSS_V2 = "AMZN-PAY-RSASSA-PSS-V2"
SALT_LENGTH = {PSS: 20, PSS_V2: 32}

_UNRESERVED = "-_.~"  # with letters and digits, never percent-encoded (RFC 3986)


def _encode(value: str, *, keep_slash: bool = False) -> str:
    return quote(value, safe=_UNRESERVED + ("/" if keep_slash else ""))


def canonical_uri(uri: str) -> str:
    """The path, percent-encoded, repeated slashes folded; "/" when empty. A leading "//"
    starts an authority (RFC 3986), as the SDK's URI parser reads it."""
    path = uri.split("?", 1)[0]
    if path.startswith("//"):
        rest = path[2:]
        path = rest[rest.index("/") :] if "/" in rest else ""
    path = re.sub("/{2,}", "/", path)
    return _encode(path, keep_slash=True) if path else "/"


def canonical_query(parameters: Mapping[str, Sequence[str]]) -> str:
    pairs = sorted(
        (_encode(key), _encode(value)) for key, values in parameters.items() for value in values
    )
    return "&".join(f"{k}={v}" for k, v in pairs)


def payload_hash(payload: bytes | str) -> str:
    data = payload.encode() if isinstance(payload, str) else payload
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Canonical:
    request: str
    signed_headers: str


def canonical_request(
    method: str,
    uri: str,
    parameters: Mapping[str, Sequence[str]],
    headers: Mapping[str, str],
    payload: bytes | str,
) -> Canonical:
    named = sorted((k.strip().lower(), " ".join(str(v).split())) for k, v in headers.items())
    signed = ";".join(k for k, _ in named)
    lines = "".join(f"{k}:{v}\n" for k, v in named)
    request = "\n".join(
        [
            method.upper(),
            canonical_uri(uri),
            canonical_query(parameters),
            lines,
            signed,
            payload_hash(payload),
        ]
    )
    return Canonical(request, signed)


def string_to_sign(algorithm: str, canonical: str) -> str:
    if algorithm not in SALT_LENGTH:
        raise ValueError(f"unknown algorithm {algorithm}")
    return f"{algorithm}\n{hashlib.sha256(canonical.encode()).hexdigest()}"


def _pss(algorithm: str) -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=SALT_LENGTH[algorithm])


def sign(private_key: rsa.RSAPrivateKey, algorithm: str, to_sign: str) -> str:
    raw = private_key.sign(to_sign.encode(), _pss(algorithm), hashes.SHA256())
    return base64.b64encode(raw).decode()


def verify(public_key: rsa.RSAPublicKey, algorithm: str, to_sign: str, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, to_sign.encode(), _pss(algorithm), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def authorization(algorithm: str, public_key_id: str, signed_headers: str, signature: str) -> str:
    return (
        f"{algorithm} PublicKeyId={public_key_id}, SignedHeaders={signed_headers}, "
        f"Signature={signature}"
    )


_AUTH = re.compile(
    r"(?P<alg>AMZN-PAY-RSASSA-PSS(?:-V2)?) PublicKeyId=(?P<key>[^,\s]+), "
    r"SignedHeaders=(?P<signed>[^,\s]+), Signature=(?P<sig>\S+)"
)


@dataclass(frozen=True)
class Authorization:
    algorithm: str
    public_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> Authorization | None:
    found = _AUTH.fullmatch(value.strip())
    if found is None:
        return None
    signed = tuple(found["signed"].split(";"))
    return Authorization(found["alg"], found["key"], signed, found["sig"])


def signed_headers(
    *,
    method: str,
    path: str,
    parameters: Mapping[str, Sequence[str]],
    body: bytes,
    headers: Mapping[str, str],
    private_key: rsa.RSAPrivateKey,
    public_key_id: str,
    algorithm: str = PSS_V2,
) -> dict[str, str]:
    """`headers` (the x-amz-pay-* ones, accept, content-type) with their authorization."""
    canonical = canonical_request(method, path, parameters, headers, body)
    signature = sign(private_key, algorithm, string_to_sign(algorithm, canonical.request))
    return {
        **headers,
        "authorization": authorization(
            algorithm, public_key_id, canonical.signed_headers, signature
        ),
    }
