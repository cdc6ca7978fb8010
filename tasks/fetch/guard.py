"""The SSRF guard: which URLs may be fetched, and the checked addresses of their hosts.

``AddressGuard`` resolves each host once, refuses loopback / private / link-local / multicast /
reserved / unspecified addresses unless ``allowed_hosts`` says otherwise, and remembers the
answer; ``transport.GuardedTransport`` then connects to exactly those addresses (no DNS
rebinding between the check and the connection).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

import httpx
from newsledger.tasks.errors import BlockedURLError, ConnectionFailedError
from newsledger.tasks.settings import Settings
from newsledger.tasks.urls import idna_host

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], Awaitable[Sequence[str]]]
"""Turns a host name into address strings (default: the system resolver via getaddrinfo)."""

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


async def _system_resolve(host: str) -> list[str]:
    """Resolve ``host`` with the system resolver (``getaddrinfo``), in the event loop."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


_USERINFO = re.compile(r"(//)[^/?#@]*@")


def redact_userinfo(text: str) -> str:
    """``text`` with the user info of any URL in it (``//user:pw@``) removed."""
    return _USERINFO.sub(r"\1", text)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address carried inside an IPv6 one (mapped, NAT64, 6to4), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def non_public_reason(address: IPAddress) -> str | None:
    """Why ``address`` must not be fetched ("loopback", "private", ...), or None if public."""
    for candidate in (_embedded_ipv4(address), address):
        if candidate is None:
            continue
        for attribute in (
            "is_unspecified",
            "is_loopback",
            "is_link_local",
            "is_multicast",
            "is_private",
            "is_reserved",
        ):
            if getattr(candidate, attribute):
                return attribute.removeprefix("is_").replace("_", "-")
        if not candidate.is_global:
            return "non-global"
    return None


def _address_literal(host: str) -> IPAddress | None:
    """The address a host that is an IP literal stands for, or None for a name. Read as the
    system resolver reads it: a trailing dot allowed (``127.0.0.1.``), and IPv4 in the
    shorthand ``inet_aton`` accepts (``127.1``, ``0x7f.1``, ``2130706433``), so such hosts are
    judged by the address, never sent to DNS as names that "cannot be resolved"."""
    name = host.removesuffix(".") if host.count(".") else host
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    if not name or not all(part and part.isalnum() for part in name.split(".")):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(name))
    except OSError:
        return None


class AddressGuard:
    """The SSRF guard: checks URLs and resolves each host once to addresses we may connect to.

    ``check_url`` validates the syntax (http/https with a host); ``addresses`` resolves the
    host (once per guard; concurrent callers share the lookup) and raises ``BlockedURLError``
    if any address is not public, unless the host name is in ``settings.allowed_names()`` or
    the address lies in ``settings.allowed_networks()``. ``GuardedTransport`` connects only to
    the addresses returned here.
    """

    def __init__(self, settings: Settings, resolver: Resolver | None = None) -> None:
        self._allowed_names = {name.rstrip(".") for name in settings.allowed_names()}
        self._allowed_networks = settings.allowed_networks()
        self._resolver = resolver or _system_resolve
        self._cache: dict[str, tuple[IPAddress, ...]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def check_url(self, url: str | httpx.URL) -> httpx.URL:
        """Parse ``url`` and refuse anything that is not http(s) with a host name."""
        shown = redact_userinfo(str(url))
        try:
            parsed = httpx.URL(uts46_url(url) if isinstance(url, str) else url)
        except (httpx.InvalidURL, TypeError, ValueError, UnicodeError) as exc:
            raise BlockedURLError(f"refused {shown!r}: not a valid URL") from exc
        if parsed.scheme not in ("http", "https"):
            raise BlockedURLError(f"refused {shown}: only http and https URLs are fetched")
        if not parsed.host:
            raise BlockedURLError(f"refused {shown}: the URL has no host")
        if parsed.userinfo:
            # credentials would be sent as Basic auth and end up in the ledger: never
            raise BlockedURLError(f"refused {shown}: URLs with user credentials are not fetched")
        return parsed

    async def addresses(self, host: str) -> tuple[IPAddress, ...]:
        """The checked addresses of ``host``, resolved on first use and then remembered."""
        key = host.lower()
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        async with self._locks.setdefault(key, asyncio.Lock()):
            if key not in self._cache:
                self._cache[key] = self._check(key, await self._resolve(key))
            return self._cache[key]

    async def _resolve(self, host: str) -> tuple[IPAddress, ...]:
        literal = _address_literal(host)
        if literal is not None:
            return (literal,)  # a literal address needs no lookup
        try:
            answers = await self._resolver(host)
        except (OSError, UnicodeError) as exc:
            temporary = isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_AGAIN
            raise ConnectionFailedError(
                f"cannot resolve host {host!r}: {exc}", retryable=temporary
            ) from exc
        addresses: dict[IPAddress, None] = {}
        for answer in answers:
            addresses[ipaddress.ip_address(answer)] = None
        if not addresses:
            raise ConnectionFailedError(f"host {host!r} has no addresses")
        return tuple(addresses)

    def _check(self, host: str, addresses: tuple[IPAddress, ...]) -> tuple[IPAddress, ...]:
        if host.rstrip(".") in self._allowed_names:
            return addresses
        for address in addresses:
            reason = non_public_reason(address)
            if reason is not None and not self._is_allowed(address):
                raise BlockedURLError(
                    f"refused host {host!r}: it resolves to {address}, a {reason} address "
                    "(add it to allowed_hosts to fetch it anyway)"
                )
        return addresses

    def _is_allowed(self, address: IPAddress) -> bool:
        candidates = [address, _embedded_ipv4(address)]
        return any(
            candidate is not None and candidate.version == network.version and candidate in network
            for candidate in candidates
            for network in self._allowed_networks
        )


def uts46_url(url: str) -> str:
    """``url`` with a non-ASCII host name in its UTS-46 ASCII form, the one ``normalize_url``
    gives (httpx alone uses IDNA 2008 without the UTS-46 mapping and refuses e.g. full-width
    letters). Anything unparseable is returned as it is, for httpx to refuse."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return url
    if host is None or host.isascii():
        return url
    encoded = idna_host(host.rstrip("."))
    if encoded is None:
        return url
    userinfo, at, _ = parts.netloc.rpartition("@")
    netloc = f"{userinfo}{at}{encoded}" + (f":{port}" if port is not None else "")
    return urlunsplit(parts._replace(netloc=netloc))
