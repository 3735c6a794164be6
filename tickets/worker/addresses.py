"""Where a webhook may be sent: the guard against server-side request forgery. A URL whose host is, or resolves
to, a loopback, private, link-local, multicast or otherwise non-public address is refused, at creation and again
before each try (a name may resolve elsewhere tomorrow), unless TICKETS_WEBHOOKS_ALLOW_PRIVATE=1."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from tickets.engine.errors import AddressRefused
from tickets.engine.messages import Message, message

KINDS = (  # an address's kind, and the catalog's message that names it
    ("is_loopback", "address_loopback"),
    ("is_link_local", "address_link_local"),
    ("is_multicast", "address_multicast"),
    ("is_unspecified", "address_unspecified"),
    ("is_private", "address_private"),
    ("is_reserved", "address_reserved"),
)


def refusal(address: str) -> Message | None:
    """Why the service may not call this IP address, or None when it is a public one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is not part of it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for attribute, kind in KINDS:
        if getattr(ip, attribute):
            return message(kind)
    return None if ip.is_global else message("address_not_global")


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
        raise AddressRefused(message("address_unresolved", host=host, problem=exc)) from None
    if allow_private:
        return
    for *_, sockaddr in found:
        address = str(sockaddr[0])
        why = refusal(address)
        if why is not None:
            raise AddressRefused(message("address_not_public", host=host, address=address, kind=why))


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False
