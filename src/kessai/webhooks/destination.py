"""The one rule on where an outbound webhook may go, checked when an endpoint is saved and
again on every send (DNS may have changed since: rebinding).

- The URL: http or https (https only in production unless KESSAI_WEBHOOK_ALLOW_HTTP), a
  host, no user name or password in it, no blank or control character.
- Every address the host resolves to is public. Refused: unspecified (0.0.0.0/8, ::),
  loopback, link-local (169.254/16 with the cloud metadata server, fe80::/10), multicast,
  shared CGNAT space (100.64/10), private (RFC 1918, fc00::/7, the deprecated fec0::/10),
  reserved, and whatever else `ipaddress` does not call global (documentation, benchmark
  and protocol ranges). An IPv6 address carrying an IPv4 one (IPv4-mapped ::ffff:a.b.c.d,
  6to4 2002::/16, NAT64 64:ff9b::/96) is judged by the IPv4 address it reaches.
  KESSAI_WEBHOOK_ALLOW_PRIVATE (on by default in the sandbox, where the demo and the tests
  deliver to receivers on loopback) lifts this part.

Python's `is_global` alone is not enough: it calls multicast and fec0::/10 global, and
before 3.13 judges ::ffff:127.0.0.1 and ::127.0.0.1 as IPv6 addresses.

At send time `PinnedResolver` is the HTTP client's resolver: the addresses it checks are the
ones the client connects to, so no second lookup can swap them. An IP literal in the URL
never reaches a resolver; `check_url` judges it.
"""

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult

from kessai.core.errors import InvalidInput

if TYPE_CHECKING:
    from kessai.core.settings import Settings

IPAddress = IPv4Address | IPv6Address
# host, port → every address the host resolves to (socket.getaddrinfo in production).
Resolve = Callable[[str, int], Awaitable[list[IPAddress]]]

RESOLVE_TIMEOUT = 5.0  # seconds for one lookup; past it the host counts as unresolvable

INVALID_URL = "invalid_webhook_url"
CREDENTIALS = "webhook_url_credentials"
HTTPS_REQUIRED = "webhook_https_required"
UNRESOLVABLE = "webhook_host_unresolvable"
NOT_PUBLIC = "webhook_address_not_public"

_THIS_NETWORK = IPv4Network("0.0.0.0/8")  # 0.0.0.0 reaches this machine on Linux
# RFC 1918, unique local fc00::/7 and the deprecated site-local fec0::/10 (which `ipaddress`
# calls global); the rest `is_private` covers (documentation, benchmarking …) is not_global.
_PRIVATE = tuple(
    ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fec0::/10")
)
# Not global in IANA's registries though this Python's `is_global` says so: the rest of the
# IETF protocol block and the newer IPv6 documentation prefix.
_NOT_GLOBAL_TOO = tuple(ip_network(n) for n in ("192.0.0.0/24", "3fff::/20"))
_SHARED = IPv4Network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_NAT64 = IPv6Network("64:ff9b::/96")  # well-known NAT64 prefix: the last 32 bits are IPv4

# Each class of address refused, in the order asked, with the words an operator reads.
_KINDS: tuple[tuple[str, str, Callable[[IPAddress], bool]], ...] = (
    ("unspecified", "未指定アドレス", lambda a: a.is_unspecified or a in _THIS_NETWORK),
    ("loopback", "ループバックアドレス", lambda a: a.is_loopback),
    (
        "link_local",
        "リンクローカルアドレス (クラウドのメタデータサーバーなど)",
        lambda a: a.is_link_local,
    ),
    ("multicast", "マルチキャストアドレス", lambda a: a.is_multicast),
    ("shared", "キャリアグレードNATの共有アドレス (100.64.0.0/10)", lambda a: a in _SHARED),
    ("private", "プライベートアドレス", lambda a: any(a in n for n in _PRIVATE)),
    ("reserved", "予約済みアドレス", lambda a: a.is_reserved),
    (
        "not_global",
        "インターネットに公開されていないアドレス",
        lambda a: not a.is_global or any(a in n for n in _NOT_GLOBAL_TOO),
    ),
)
KINDS = {code: label for code, label, _ in _KINDS}


@dataclass(frozen=True)
class Policy:
    """What the settings allow beyond the rule's default."""

    allow_private: bool
    allow_http: bool

    @classmethod
    def of(cls, settings: "Settings") -> "Policy":
        """KESSAI_WEBHOOK_ALLOW_PRIVATE / _HTTP; unset, both follow the sandbox."""

        def flag(value: bool | None) -> bool:
            return settings.sandbox if value is None else value

        return cls(flag(settings.webhook_allow_private), flag(settings.webhook_allow_http))


class Refused(InvalidInput):
    """A destination the rule refuses: 422 when saving, a refused try when sending."""


def reached(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries to (mapped, 6to4, NAT64), else itself."""
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64:
            return IPv4Address(int(address) & 0xFFFF_FFFF)
    return address


def kind_of(address: IPAddress) -> str | None:
    """The class of a refused address (a key of KINDS), None for a public one."""
    target = reached(address)
    for code, _label, test in _KINDS:
        if test(target):
            return code
    return None


def check_address(host: str, address: IPAddress, policy: Policy) -> None:
    if policy.allow_private:
        return
    kind = kind_of(address)
    if kind is None:
        return
    target = reached(address)
    shown = str(address) if target == address else f"{address} = {target}"
    shown = shown if host == str(address) else f"{host} ({shown})"
    raise Refused(
        f"送信先 {shown} は{KINDS[kind]}です。Webhookはインターネットに公開された"
        f"アドレスにだけ送信できます",
        code=NOT_PUBLIC,
        detail={"host": host, "address": str(address), "kind": kind},
    )


def literal(host: str) -> IPAddress | None:
    try:
        return ip_address(host)
    except ValueError:
        return None


def check_url(url: str, policy: Policy) -> SplitResult:
    """Everything that can be judged without DNS: the URL's form, and its host when that is
    an IP address."""
    if any(ord(ch) < 0x21 or 0x7F <= ord(ch) <= 0x9F for ch in url):
        raise Refused("送信先URLに空白や制御文字は使えません", code=INVALID_URL)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port out of range or not a number raises here
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(
            "送信先URLは http:// または https:// で始まるURLを指定してください",
            code=INVALID_URL,
            detail={"url": url},
        )
    if parts.username is not None or parts.password is not None:
        raise Refused(
            "送信先URLにユーザー名やパスワードを含めることはできません"
            " (受信側の認証は署名で確かめてください)",
            code=CREDENTIALS,
        )
    if parts.scheme == "http" and not policy.allow_http:
        raise Refused(
            "送信先URLは https:// で始まるURLを指定してください (本番環境では http は使えません)",
            code=HTTPS_REQUIRED,
            detail={"url": url},
        )
    address = literal(parts.hostname)
    if address is not None:
        check_address(parts.hostname, address, policy)
    return parts


def default_port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


async def system_resolve(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # An IPv6 sockaddr may carry its scope ("fe80::1%eth0"): the address is before it.
    return list(dict.fromkeys(ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos))


async def resolve_checked(
    host: str, port: int, policy: Policy, resolve: Resolve
) -> list[IPAddress]:
    """Every address of `host`, each one allowed; Refused when one is not or none is found."""
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            addresses = await resolve(host, port)
    except (OSError, TimeoutError):
        addresses = []
    if not addresses:
        raise Refused(
            f"送信先のホスト名 {host} のアドレスを取得できませんでした"
            " (DNSの設定を確認してください)",
            code=UNRESOLVABLE,
            detail={"host": host},
        )
    for address in addresses:
        check_address(host, address, policy)
    return addresses


async def check(url: str, policy: Policy, resolve: Resolve | None = None) -> str:
    """The whole rule, as an endpoint is saved. While private addresses are allowed a host
    needs no lookup (it may not resolve yet); the send checks again either way."""
    parts = check_url(url, policy)
    host = parts.hostname
    assert host is not None  # check_url refuses a URL without one
    if not policy.allow_private and literal(host) is None:
        await resolve_checked(host, default_port(parts), policy, resolve or system_resolve)
    return url


class PinnedResolver(AbstractResolver):
    """The HTTP client's resolver: looks the host up once, refuses the lot if any address is
    not allowed, and hands the client exactly the addresses it checked."""

    def __init__(self, policy: Policy, resolve: Resolve | None = None) -> None:
        self.policy = policy
        self._resolve = resolve or system_resolve

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[ResolveResult]:
        addresses = await resolve_checked(host, port, self.policy, self._resolve)
        wanted = {
            socket.AF_INET: IPv4Address,
            socket.AF_INET6: IPv6Address,
        }.get(family, (IPv4Address, IPv6Address))
        return [
            ResolveResult(
                hostname=host,
                host=str(a),
                port=port,
                family=socket.AF_INET6 if isinstance(a, IPv6Address) else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for a in addresses
            if isinstance(a, wanted)
        ]

    async def close(self) -> None:
        return None
