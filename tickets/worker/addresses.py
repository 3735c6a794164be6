"""Where a webhook may be sent: the guard against server-side request forgery. A URL whose host is, or resolves
to, a loopback, private, link-local, multicast or otherwise non-public address is refused, at creation and again
before each try (a name may resolve elsewhere tomorrow), unless TICKETS_WEBHOOKS_ALLOW_PRIVATE=1."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from tickets.engine.errors import AddressRefused

KINDS = (
    ("is_loopback", "a loopback address"),
    ("is_link_local", "a link-local address"),
    ("is_multicast", "a multicast address"),
    ("is_unspecified", "an unspecified address"),
    ("is_private", "a private address"),
    ("is_reserved", "a reserved address"),
)


def refusal(address: str) -> str | None:
    """Why the service may not call this IP address, or None when it is a public one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is not part of it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for attribute, kind in KINDS:
        if getattr(ip, attribute):
            return kind
    return None if ip.is_global else "not a public address"


async def check(url: str, allow_private: bool) -> None:
    """AddressRefused naming the problem when the URL's host does not resolve, or resolves to an address the
    service may not call (unless allow_private)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if allow_private and _literal(host):
        return  # an address written out: nothing to resolve, nothing to refuse
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(f"the host {host!r} of the webhook URL does not resolve ({exc})") from None
    if allow_private:
        return
    for *_, sockaddr in found:
        address = str(sockaddr[0])
        why = refusal(address)
        if why is not None:
            raise AddressRefused(
                f"the host {host!r} of the webhook URL resolves to {address}, {why}: the service only calls public "
                "addresses (TICKETS_WEBHOOKS_ALLOW_PRIVATE=1 allows the others)"
            )


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False
