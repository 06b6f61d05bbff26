"""The destination rule on its own (kessai.webhooks.destination): which addresses a webhook
may reach, the URL's form, the settings that loosen it, and the resolver the HTTP client
connects through. No network: host names go to a fake resolver."""

import socket
from ipaddress import ip_address

import pytest

from kessai.core.errors import ConfigurationError
from kessai.core.settings import Env, Settings
from kessai.webhooks import destination as d
from tests.webhooks.conftest import FakeDNS

STRICT = d.Policy(allow_private=False, allow_http=False)
OPEN = d.Policy(allow_private=True, allow_http=True)

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("::1", "loopback"),
    ("0.0.0.0", "unspecified"),  # noqa: S104 - an address refused, not one bound
    ("0.1.2.3", "unspecified"),
    ("::", "unspecified"),
    ("10.0.0.5", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("fec0::1", "private"),  # site-local: ipaddress calls it global
    ("169.254.169.254", "link_local"),  # the cloud metadata server
    ("fe80::1", "link_local"),
    ("224.0.0.1", "multicast"),  # ipaddress calls multicast global
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("100.64.0.1", "shared"),
    ("100.127.255.254", "shared"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("::127.0.0.1", "reserved"),  # IPv4-compatible (deprecated): ipaddress calls it global
    ("64:ff9b:1::1", "reserved"),  # NAT64 local-use prefix
    ("192.0.2.1", "not_global"),  # documentation
    ("198.18.0.1", "not_global"),  # benchmarking
    ("192.0.0.8", "not_global"),  # IETF protocol assignments: Python 3.11 calls it global
    ("2001:db8::1", "not_global"),
    ("3fff::1", "not_global"),  # documentation (2024)
    ("5f00::1", "reserved"),  # SRv6 SIDs, inside the reserved 4000::/3
    ("2001::1", "not_global"),  # Teredo
    # An IPv6 address carrying an IPv4 one is judged by the IPv4 address it reaches.
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.5", "private"),
    ("::ffff:169.254.169.254", "link_local"),
    ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
    ("2002:a9fe:a9fe::1", "link_local"),  # 6to4 of 169.254.169.254
    ("64:ff9b::a00:5", "private"),  # NAT64 of 10.0.0.5
    ("64:ff9b::7f00:1", "loopback"),
]
PUBLIC = [
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "100.63.255.255",  # just below CGNAT
    "172.32.0.1",  # just past 172.16/12
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "2002:808:808::",  # 6to4 of a public address
    "64:ff9b::808:808",  # NAT64 of a public address (an IPv6-only host with DNS64)
]


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_each_class_of_address_is_refused_with_its_name(address: str, kind: str) -> None:
    assert d.kind_of(ip_address(address)) == kind
    with pytest.raises(d.Refused) as refused:
        d.check_address("hooks.example.jp", ip_address(address), STRICT)
    assert refused.value.code == d.NOT_PUBLIC
    shown = str(ip_address(address))  # as Python writes it: ::ffff:7f00:1
    assert refused.value.detail == {"host": "hooks.example.jp", "address": shown, "kind": kind}
    assert d.KINDS[kind] in refused.value.message
    assert shown in refused.value.message
    d.check_address("hooks.example.jp", ip_address(address), OPEN)  # the setting lifts it


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert d.kind_of(ip_address(address)) is None
    assert d.reached(ip_address(address)).is_global
    d.check_address("hooks.example.jp", ip_address(address), STRICT)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://hooks.example.jp/", d.INVALID_URL),
        ("file:///etc/passwd", d.INVALID_URL),
        ("https:///no-host", d.INVALID_URL),
        ("https://hooks.example.jp:99999/", d.INVALID_URL),
        ("https://hooks.example.jp/a b", d.INVALID_URL),
        ("https://hooks.example.jp/\x85", d.INVALID_URL),
        ("https://user:pass@hooks.example.jp/", d.CREDENTIALS),
        ("https://user@hooks.example.jp/", d.CREDENTIALS),
        ("http://hooks.example.jp/", d.HTTPS_REQUIRED),
        ("https://127.0.0.1/", d.NOT_PUBLIC),
        ("https://[::1]:8443/", d.NOT_PUBLIC),
        ("https://[::ffff:169.254.169.254]/", d.NOT_PUBLIC),
        ("https://[fe80::1%25eth0]/", d.NOT_PUBLIC),
    ],
)
def test_url_form_is_judged_without_dns(url: str, code: str) -> None:
    with pytest.raises(d.Refused) as refused:
        d.check_url(url, STRICT)
    assert refused.value.code == code
    assert refused.value.status_code == 422


def test_url_form_that_passes() -> None:
    assert d.check_url("https://hooks.example.jp/kessai?x=1", STRICT).hostname == "hooks.example.jp"
    assert d.check_url("https://93.184.216.34:8443/", STRICT).port == 8443
    assert d.check_url("http://127.0.0.1:8080/hook", OPEN).hostname == "127.0.0.1"


def test_settings_default_by_environment_and_can_be_set() -> None:
    assert d.Policy.of(Settings.from_env({})) == OPEN  # sandbox: the demo's local receivers
    production = {"KESSAI_ENV": "production"}
    assert d.Policy.of(Settings.from_env(production)) == STRICT
    loosened = {
        **production,
        "KESSAI_WEBHOOK_ALLOW_PRIVATE": "true",
        "KESSAI_WEBHOOK_ALLOW_HTTP": "1",
    }
    assert d.Policy.of(Settings.from_env(loosened)) == OPEN
    tightened = {"KESSAI_WEBHOOK_ALLOW_PRIVATE": "off", "KESSAI_WEBHOOK_ALLOW_HTTP": "no"}
    assert d.Policy.of(Settings.from_env(tightened)) == STRICT
    assert d.Policy.of(Settings(env=Env.PRODUCTION, webhook_allow_http=True)) == d.Policy(
        allow_private=False, allow_http=True
    )
    with pytest.raises(ConfigurationError) as bad:
        Settings.from_env({"KESSAI_WEBHOOK_ALLOW_PRIVATE": "maybe"})
    assert "KESSAI_WEBHOOK_ALLOW_PRIVATE" in bad.value.message


async def test_every_address_a_host_resolves_to_must_be_public() -> None:
    dns = FakeDNS()
    dns.table = {
        "hooks.example.jp": ["93.184.216.34", "2606:4700:4700::1111"],
        "mixed.example.jp": ["93.184.216.34", "10.0.0.5"],
    }
    url = "https://hooks.example.jp/kessai"
    assert await d.check(url, STRICT, dns) == url
    with pytest.raises(d.Refused) as mixed:
        await d.check("https://mixed.example.jp/", STRICT, dns)
    assert mixed.value.code == d.NOT_PUBLIC
    assert mixed.value.detail["address"] == "10.0.0.5"
    with pytest.raises(d.Refused) as nowhere:
        await d.check("https://nowhere.example.jp/", STRICT, dns)
    assert nowhere.value.code == d.UNRESOLVABLE
    assert "nowhere.example.jp" in nowhere.value.message


async def test_a_failed_lookup_is_unresolvable() -> None:
    async def broken(host: str, port: int) -> list[d.IPAddress]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(d.Refused) as refused:
        await d.check("https://hooks.example.jp/", STRICT, broken)
    assert refused.value.code == d.UNRESOLVABLE


async def test_while_private_is_allowed_a_host_is_not_looked_up_at_save() -> None:
    dns = FakeDNS()
    assert await d.check("http://shop.internal:8080/hook", OPEN, dns) == (
        "http://shop.internal:8080/hook"
    )
    assert dns.asked == []


async def test_the_pinned_resolver_hands_over_exactly_what_it_checked() -> None:
    dns = FakeDNS()
    dns.table = {
        "hooks.example.jp": ["93.184.216.34", "2606:4700:4700::1111"],
        "rebound.example.jp": ["93.184.216.34", "169.254.169.254"],
    }
    pinned = d.PinnedResolver(STRICT, dns)
    found = await pinned.resolve("hooks.example.jp", 443, socket.AF_UNSPEC)
    assert [(r["host"], r["port"], r["family"]) for r in found] == [
        ("93.184.216.34", 443, socket.AF_INET),
        ("2606:4700:4700::1111", 443, socket.AF_INET6),
    ]
    only_v4 = await pinned.resolve("hooks.example.jp", 443, socket.AF_INET)
    assert [r["host"] for r in only_v4] == ["93.184.216.34"]
    with pytest.raises(d.Refused) as refused:
        await pinned.resolve("rebound.example.jp", 443)
    assert refused.value.detail["kind"] == "link_local"
    assert dns.asked == ["hooks.example.jp", "hooks.example.jp", "rebound.example.jp"]
