"""Who is calling: the peer's address, or the client a trusted reverse proxy forwarded the request for."""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from aiohttp import hdrs, web

from hub.api.state import CONFIG

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network


def client_address(request: web.Request) -> str:
    """The caller's address, for decisions such as the login throttle; never taken from a spoofable header."""
    return forwarded_client(
        request.remote,
        request.headers.getall(hdrs.X_FORWARDED_FOR, ()),
        request.app[CONFIG].http.trusted_proxies,
    )


def forwarded_client(
    peer: str | None, forwarded_for: Iterable[str], trusted: tuple[Network, ...]
) -> str:
    """``peer``, or when it is a trusted proxy the rightmost ``X-Forwarded-For`` hop that is not one."""
    if peer is None:
        return "unknown"
    address = parse_address(peer)
    if address is None or not _within(address, trusted):
        return peer  # anyone may write X-Forwarded-For; only a trusted proxy's is believed
    client = str(address)
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        # Each trusted proxy appends the address it saw; the first hop (from the right) it did not
        # trust is the client. Left of that, the client wrote the header itself.
        hop_address = parse_address(hop)
        if hop_address is None:
            break  # not an address: nothing left of it can be believed; the last real hop stands
        client = str(hop_address)
        if not _within(hop_address, trusted):
            break
    return client


def parse_address(text: str) -> Address | None:
    """An IP address from ``1.2.3.4``, ``1.2.3.4:5678``, ``::1`` or ``[::1]:5678``; None if not one."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _within(address: Address, networks: tuple[Network, ...]) -> bool:
    return any(address in network for network in networks)
