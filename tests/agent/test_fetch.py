"""The local web reader against a real loopback server, and its HTML-to-text conversion."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer
from yarl import URL

from hub.agent.fetch import USER_AGENT, FetchFailed, FetchLimits, FetchRefused, LocalFetchReader
from hub.agent.readable import readable_text
from hub.core.errors import FETCH_FAILED, FETCH_REFUSED
from hub.integrations.capabilities import WebFetchProvider

PAGE = """<!DOCTYPE html>
<html><head><title>Garden &amp; Home</title>
<style>body { color: red }</style>
<script>document.write("<p>injected</p>")</script></head>
<body><nav><a href="/">Home</a> <a href="/about">About</a></nav>
<h1>Tomatoes</h1>
<p>Water   them <b>daily</b> &mdash; not &lt;weekly&gt;.</p>
<h2>Varieties</h2>
<ul><li>Cherry</li><li>Roma</li></ul>
<footer>© someone</footer></body></html>"""

LIMITS = FetchLimits(max_bytes=1000, timeout=1.0, max_redirects=3, max_chars=50)


@dataclass
class Site:
    """A small fake web site on 127.0.0.1, recording each path it was asked for."""

    base: URL
    hits: list[str] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        """The absolute address of ``path`` on this site."""
        return str(self.base.with_path(path))


def site_app(site: Site, release: asyncio.Event) -> web.Application:
    """The fake site's routes."""

    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        site.hits.append(request.path)
        site.agents.append(request.headers.get("User-Agent", ""))
        return await handler(request)

    def text(body: str | bytes, content_type: str) -> web.Response:
        raw = body.encode() if isinstance(body, str) else body
        return web.Response(body=raw, headers={"Content-Type": content_type})

    async def big_stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        for _ in range(10):
            await response.write(b"x" * 500)
        await response.write_eof()
        return response

    async def stall(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        await response.write(b"the start, then nothing")
        await release.wait()
        return response

    def found(location: str) -> web.Response:
        return web.Response(status=302, headers={"Location": location})

    routes = {
        "/page": lambda r: text(PAGE, "text/html; charset=utf-8"),
        "/json": lambda r: text('{"a": [1, 2]}', "application/json"),
        "/plain": lambda r: text("just  text\n\n\n<b>kept</b>", "text/plain"),
        "/latin1": lambda r: text("<p>Café</p>".encode("latin-1"), "text/html; charset=iso-8859-1"),
        "/meta": lambda r: text(
            '<meta charset="windows-1252"><p>Smart \x93quotes\x94</p>'.encode("latin-1"),
            "text/html",
        ),
        "/long": lambda r: text("word " * 100, "text/plain"),
        "/big": lambda r: text("x" * 5000, "text/plain"),
        "/bomb": lambda r: web.Response(
            body=gzip.compress(b"a" * 5_000_000),
            headers={"Content-Type": "text/plain", "Content-Encoding": "gzip"},
        ),
        "/png": lambda r: text(b"\x89PNG\r\n\x1a\n", "image/png"),
        "/pdf": lambda r: text(b"%PDF-1.4", "application/pdf"),
        "/missing": lambda r: web.Response(status=404, text="no"),
        "/broken": lambda r: web.Response(status=500, text="oops"),
        "/hop": lambda r: found("/page"),
        "/loop": lambda r: found("/loop"),
        "/to": lambda r: found(r.query["to"]),
    }

    async def dispatch(request: web.Request) -> web.StreamResponse:
        return routes[request.path](request)

    app = web.Application(middlewares=[record])
    app.router.add_get("/big-stream", big_stream)
    app.router.add_get("/stall", stall)
    for path in routes:
        app.router.add_get(path, dispatch)
    return app


@pytest.fixture
async def site(aiohttp_server: AiohttpServer) -> AsyncIterator[Site]:
    """The fake site, started; a stalled handler is let go at the end."""
    release = asyncio.Event()
    site = Site(URL("http://127.0.0.1"))
    server = await aiohttp_server(site_app(site, release))
    site.base = server.make_url("/")
    yield site
    release.set()


def local(limits: FetchLimits = LIMITS) -> LocalFetchReader:
    """A reader that may fetch from this machine, as the fake site lives there."""
    return LocalFetchReader(allow_private=True, limits=limits)


def test_reader_is_a_web_fetch_provider() -> None:
    reader: WebFetchProvider = LocalFetchReader()
    assert isinstance(reader, WebFetchProvider)
    assert reader.name == "local"
    assert FetchRefused("x").code == FETCH_REFUSED
    assert FetchFailed("x").code == FETCH_FAILED


@pytest.mark.usefixtures("no_lingering_tasks")
async def test_a_page_comes_back_as_readable_text(site: Site) -> None:
    text = await local(FetchLimits()).fetch(site.url("/page"))
    assert text == (
        "Garden & Home\n\n# Tomatoes\n\nWater them daily — not <weekly>.\n\n"
        "## Varieties\n\n- Cherry\n- Roma"
    )
    assert site.agents == [USER_AGENT]


async def test_loopback_is_refused_by_default_without_a_request(site: Site) -> None:
    with pytest.raises(FetchRefused, match=r"on the local network \(127\.0\.0\.1 is a loopback"):
        await LocalFetchReader().fetch(site.url("/page"))
    assert site.hits == []


async def test_a_host_name_is_vetted_and_pinned_to_its_addresses(site: Site) -> None:
    by_name = site.url("/page").replace("127.0.0.1", "localhost")
    with pytest.raises(FetchRefused, match="allow local addresses in your settings"):
        await LocalFetchReader().fetch(by_name)
    assert site.hits == []
    assert (await local(FetchLimits()).fetch(by_name)).startswith("Garden & Home")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://169.254.169.254/latest/meta-data/", "a link-local address"),
        ("http://[::ffff:127.0.0.1]/", "a loopback address"),
        ("http://[::ffff:10.0.0.1]/", "a private address"),
        ("http://10.1.2.3/", "a private address"),
        ("http://192.168.1.20:8123/", "a private address"),
        ("http://0.0.0.0/", "an unspecified address"),
        ("http://[::]/", "an unspecified address"),
        ("http://[::1]/", "a loopback address"),
        ("http://[fe80::1]/", "a link-local address"),
        ("http://[fd00::1]/", "a private address"),
        ("http://100.64.0.1/", "a carrier-grade NAT address"),
        ("http://224.0.0.251/", "a multicast address"),
        ("http://240.0.0.1/", "a private address"),
        ("http://[64:ff9b::10.0.0.1]/", "a private address"),
        ("http://[2002:c0a8:101::]/", "a private address"),
        ("http://2130706433/", "a loopback address"),
        ("http://0x7f.0.0.1/", "a loopback address"),
        ("http://017700000001/", "a loopback address"),
        ("http://127.1/", "a loopback address"),
    ],
)
async def test_local_addresses_are_refused_before_connecting(url: str, problem: str) -> None:
    async with asyncio.timeout(2):
        with pytest.raises(FetchRefused, match=f"is {problem}"):
            await LocalFetchReader().fetch(url)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/file",
        "javascript:alert(1)",
        "data:text/html,<p>hi</p>",
        "//example.com/no-scheme",
        "example.com",
        "http:///no-host",
        "http://user:secret@example.com/",
        "http://[::1",
    ],
)
async def test_only_plain_http_and_https_addresses_are_fetched(url: str) -> None:
    with pytest.raises(FetchRefused) as caught:
        await LocalFetchReader(allow_private=True).fetch(url)
    assert "secret" not in caught.value.message


async def test_redirects_are_followed(site: Site) -> None:
    text = await LocalFetchReader(allowed_networks=["127.0.0.1/32"]).fetch(site.url("/hop"))
    assert text.startswith("Garden & Home")
    assert site.hits == ["/hop", "/page"]


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/page",
        "http://127.0.0.2:{port}/page",
        "file:///etc/passwd",
    ],
)
async def test_each_redirect_hop_is_vetted_again(site: Site, target: str) -> None:
    reader = LocalFetchReader(allowed_networks=["127.0.0.1/32"])
    hop = str(URL(site.url("/to")).with_query(to=target.format(port=site.base.port)))
    with pytest.raises(FetchRefused):
        await reader.fetch(hop)
    assert site.hits == ["/to"]


async def test_too_many_redirects_fail(site: Site) -> None:
    with pytest.raises(FetchFailed, match="redirected more than 3 times"):
        await local().fetch(site.url("/loop"))
    assert site.hits == ["/loop"] * 4


@pytest.mark.parametrize("path", ["/big", "/big-stream"])
async def test_a_body_past_max_bytes_fails(site: Site, path: str) -> None:
    with pytest.raises(FetchFailed, match="is larger than 1 kB"):
        await local().fetch(site.url(path))


async def test_a_small_compressed_body_that_inflates_past_max_bytes_fails(site: Site) -> None:
    with pytest.raises(FetchFailed, match="is larger than 100 kB"):
        await local(FetchLimits(max_bytes=100_000)).fetch(site.url("/bomb"))


@pytest.mark.usefixtures("no_lingering_tasks")
async def test_a_server_that_stalls_fails_after_the_timeout(site: Site) -> None:
    started = time.monotonic()
    with pytest.raises(FetchFailed, match=r"took longer than 0\.2 s"):
        await local(FetchLimits(timeout=0.2)).fetch(site.url("/stall"))
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(("path", "status"), [("/missing", "404 Not Found"), ("/broken", "500")])
async def test_an_error_status_fails_naming_it(site: Site, path: str, status: str) -> None:
    with pytest.raises(FetchFailed, match=f"answered HTTP {status}"):
        await local().fetch(site.url(path))


@pytest.mark.parametrize(("path", "kind"), [("/png", "image/png"), ("/pdf", "application/pdf")])
async def test_other_content_types_fail_naming_the_type(site: Site, path: str, kind: str) -> None:
    with pytest.raises(FetchFailed, match=f"is {kind}, not a web page or text"):
        await local().fetch(site.url(path))


async def test_an_unreachable_port_fails_cleanly() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchFailed, match=f"could not connect to 127.0.0.1:{port}"):
        await local().fetch(f"http://127.0.0.1:{port}/")


async def test_json_and_plain_text_come_back_as_they_are(site: Site) -> None:
    reader = local()
    assert json.loads(await reader.fetch(site.url("/json"))) == {"a": [1, 2]}
    assert await reader.fetch(site.url("/plain")) == "just  text\n\n\n<b>kept</b>"


async def test_the_charset_decodes_the_page(site: Site) -> None:
    reader = local()
    assert await reader.fetch(site.url("/latin1")) == "Café"
    assert await reader.fetch(site.url("/meta")) == "Smart “quotes”"


async def test_long_text_is_cut_to_max_chars_and_marked(site: Site) -> None:
    text = await local().fetch(site.url("/long"))
    assert text == ("word " * 10).rstrip() + "\n\n[truncated]"


# readable_text on its own


def test_title_headings_paragraphs_and_lists() -> None:
    html = (
        "<html><head><title> A  title </title></head><body>"
        "<h3>Sub</h3><p>One<br>two</p><p>three</p>"
        "<ol><li>first<li>second<ul><li>inner</ul></ol>"
    )
    assert readable_text(html) == (
        "A title\n\n### Sub\n\nOne\ntwo\n\nthree\n\n1. first\n2. second\n  - inner"
    )


def test_hidden_and_boilerplate_parts_are_dropped() -> None:
    html = (
        "<script>alert('<p>x</p>')</script><style>p{}</style><noscript>enable js</noscript>"
        "<template><p>later</p></template><svg><title>icon</title><text>drawn</text></svg>"
        "<nav>menu</nav><aside>ads</aside><footer>legal</footer>"
        "<form>Search <select><option>all</option></select><button>Go</button></form><p>kept</p>"
    )
    assert readable_text(html) == "Search\n\nkept"


def test_entities_and_whitespace() -> None:
    html = "<p>  caf&eacute;\n\t&amp;&nbsp;cr&egrave;me &#x263A; &lt;b&gt; </p>\n\n\n\n<p>a<b>b</b> c</p>"
    assert readable_text(html) == "café & crème ☺ <b>\n\nab c"


def test_links_keep_their_address_when_absolute() -> None:
    html = (
        '<p><a href="https://example.com/a?x=1&amp;y=2">Alpha</a>, <a href="/b">beta</a>,'
        ' <a href="javascript:go()">gamma</a>, <a href="https://example.com/">https://example.com/</a></p>'
    )
    assert readable_text(html) == (
        "Alpha (https://example.com/a?x=1&y=2), beta, gamma, https://example.com/"
    )
    with_base = readable_text(html, base_url="https://example.com/dir/page")
    assert "beta (https://example.com/b)" in with_base


def test_tables_and_preformatted_text() -> None:
    html = (
        "<table><tr><th>Name</th><th>Age</th></tr><tr><td>Ann</td><td>41</td></tr></table>"
        "<pre>def f():\n    return 1</pre>"
    )
    assert readable_text(html) == "Name | Age\nAnn | 41\n\ndef f():\n    return 1"


def test_malformed_markup_is_read_like_a_browser_would() -> None:
    assert readable_text("<P>Upper</P><DIV>case</DIV>") == "Upper\n\ncase"
    assert readable_text("<p>1 < 2 and 3 > 2</p>") == "1 < 2 and 3 > 2"
    assert readable_text("<p>shown</p><!-- never closed <p>hidden</p>") == "shown"
    assert readable_text('<p>shown</p><img alt="never closed') == "shown"
    assert readable_text("<p>a</p></ >b<!doctype x><?php ?>") == "a\n\nb"
    assert readable_text("<ul><li></li></ul><p>after</p><h2></h2>x<br/>y") == "after\n\nx\ny"


@pytest.mark.parametrize(
    "html",
    [
        "<a " * 600_000,
        "<div " + "a " * 1_000_000 + ">x</div>",
        "<p>x</p>" * 250_000,
        "< " * 1_000_000,
        '<a "' * 500_000,
        "<ul>" * 100_000 + "<li>x" * 300_000,
    ],
    ids=["open-tags", "attributes", "paragraphs", "stray-brackets", "open-quotes", "deep-lists"],
)
def test_hostile_pages_cost_linear_time(html: str) -> None:
    # html.parser needs minutes for the first of these; this reader a fraction of a second.
    started = time.perf_counter()
    text = readable_text(html, max_chars=50_001)
    assert time.perf_counter() - started < 5
    assert len(text) < 200_000
