"""Where the service may send requests (webhooks, and any later outbound call).

A rule's URL comes from an API key, so without a check it could make the server call
its own loopback, the private network behind it, or a cloud metadata service
(169.254.169.254) — server-side request forgery. The policy:

- https only; plain http only with CONTEXTSVC_OUTBOUND_ALLOW_HTTP (development).
- every address the host resolves to must be public (`ipaddress.is_global`: not loopback,
  private, link-local, shared, reserved, multicast, or an IPv4 address wrapped in IPv6),
  unless it is in CONTEXTSVC_OUTBOUND_ALLOW (networks such as 10.1.2.0/24, or host names,
  for on-premise receivers).
- checked when a rule is registered, and again before every delivery: DNS can change in
  between. A delivery connects to the very address it checked (the Host header and TLS
  server name stay the URL's), so a second lookup cannot swap it for another.

A name that does not resolve at registration is accepted (it cannot be judged yet; its
deliveries are checked when they happen).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from contextsvc.errors import FieldError, ValidationFailed

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]


class UnsafeTarget(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class Vetted:
    """A checked target: where to connect, and what to call it."""

    __slots__ = ("url", "host", "address", "port", "scheme")

    def __init__(self, url: str, scheme: str, host: str, port: int, address: str | None) -> None:
        self.url, self.scheme, self.host, self.port, self.address = url, scheme, host, port, address

    def pinned_url(self) -> str:
        """The URL with its host replaced by the checked address."""
        if self.address is None:
            return self.url
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if ":" in self.address else self.address
        netloc = f"{literal}:{self.port}"
        return parts._replace(netloc=netloc).geturl()

    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def _kind(address: Address) -> str:
    for name in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
        if getattr(address, f"is_{name}"):
            return name.replace("_", "-")
    return "non-public"


class OutboundPolicy:
    def __init__(self, allow: str = "", allow_http: bool = False, resolver: Resolver = resolve) -> None:
        self.allow_http = allow_http
        self.resolver = resolver
        self.networks: list[Network] = []
        self.hosts: set[str] = set()
        for entry in filter(None, (part.strip() for part in allow.split(","))):
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(entry.lower().rstrip("."))

    def _allowed(self, address: Address) -> bool:
        mapped = getattr(address, "ipv4_mapped", None)
        if mapped is not None:
            address = mapped
        return address.is_global or any(address in network for network in self.networks)

    async def vet(self, url: str, *, unresolved_ok: bool = False) -> Vetted:
        """The target if it may be called; UnsafeTarget with the reason otherwise."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme != "https" and not (scheme == "http" and self.allow_http):
            raise UnsafeTarget(
                "the URL must use https (plain http only with CONTEXTSVC_OUTBOUND_ALLOW_HTTP, for development)"
            )
        try:
            host, port = parts.hostname, parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise UnsafeTarget("the URL has an invalid port") from None
        if not host:
            raise UnsafeTarget("the URL has no host")
        host = host.rstrip(".")
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                addresses = [ipaddress.ip_address(a.split("%")[0]) for a in await self.resolver(host, port)]
            except (OSError, UnicodeError, ValueError):
                if unresolved_ok:
                    return Vetted(url, scheme, host, port, None)
                raise UnsafeTarget(f"{host} does not resolve") from None
        if not addresses:
            raise UnsafeTarget(f"{host} does not resolve")
        if host.lower() not in self.hosts:
            for address in addresses:
                if not self._allowed(address):
                    raise UnsafeTarget(
                        f"{host} resolves to {address}, a {_kind(address)} address; "
                        "list it in CONTEXTSVC_OUTBOUND_ALLOW to allow an on-premise receiver"
                    )
        return Vetted(url, scheme, host, port, str(addresses[0]))

    async def check_registration(self, url: str, field: str = "target.url") -> None:
        try:
            await self.vet(url, unresolved_ok=True)
        except UnsafeTarget as exc:
            raise ValidationFailed(
                "the webhook target is not allowed",
                [FieldError(field, "unsafe_target", exc.reason)],
                code="unsafe_target",
            ) from None
