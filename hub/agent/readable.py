"""A web page's readable text: headings, paragraphs, lists, links and tables, without the chrome.

Pure and bounded: a small tokenizer of ``str.find`` and anchored expressions, because the standard
library's ``html.parser`` takes seconds and hundreds of MB on some hostile pages.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urljoin

_SPACE = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n{3,}")
_TAG = re.compile(r"""<(/?)([a-zA-Z][^\t\n\f\r />]*)((?:[^>"']++|"[^"]*+"|'[^']*+')*+)>""")
_HREF = re.compile(r"""(?:^|[\s"'/])href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.I)
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_RAW_TEXT = {
    name: re.compile(rf"</{name}[\t\n\f\r />]", re.I)
    for name in ("script", "style", "noscript", "textarea", "title", "xmp", "iframe", "noembed")
}
_HIDDEN = frozenset({"nav", "footer", "aside", "template", "svg", "math", "select", "button"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_PARAGRAPHS = frozenset(
    {"p", "table", "blockquote", "hr", "dl", "figure", "section", "article", "main", "header"}
    | {"address", "details", "fieldset", "form"}
)
_LINES = frozenset({"div", "tr", "dt", "dd", "li", "br", "caption", "figcaption", "summary"})


def readable_text(html: str, *, base_url: str | None = None, max_chars: int | None = None) -> str:
    """An HTML page as plain text: its title, then headings, paragraphs, lists and table rows.

    Relative links are made absolute against ``base_url``; reading stops once ``max_chars``
    characters are written (the caller cuts and marks the text).
    """
    page = _Page(base_url, max_chars)
    page.feed(html)
    return page.result()


class _Page:
    """Turns a token stream into text; the only state is a few counters and the current link."""

    def __init__(self, base_url: str | None, max_chars: int | None) -> None:
        self.base, self.limit = base_url, max_chars
        self.parts: list[str] = []
        self.size, self.breaks, self.space, self.fresh, self.prefix = 0, 0, False, True, ""
        self.title: str | None = None
        self.hidden: dict[str, int] = {}
        self.lists: list[int] = []  # per open list: items so far in an <ol>, -1 for a <ul>
        self.cells, self.pre = 0, 0
        self.link: tuple[str, int] | None = None

    def feed(self, html: str) -> None:
        pos, end = 0, len(html)
        while pos < end and (self.limit is None or self.size <= self.limit):
            lt = html.find("<", pos)
            if lt < 0:
                self.text(html[pos:])
                return
            self.text(html[pos:lt])
            after = html[lt + 1 : lt + 2]
            if after in _LETTERS or (after == "/" and html[lt + 2 : lt + 3] in _LETTERS):
                tag = _TAG.match(html, lt)
                if tag is None:
                    return  # an unterminated tag runs to the end of the page, as in browsers
                pos, name = tag.end(), tag[2].lower()
                if tag[1]:
                    self.end(name)
                    continue
                self.start(name, tag[3])
                if (closer := _RAW_TEXT.get(name)) is not None:
                    found = closer.search(html, pos)
                    stop = found.start() if found else end
                    if name == "title" and self.title is None and not self.hidden:
                        self.title = _SPACE.sub(" ", unescape(html[pos:stop])).strip()
                    pos = stop
            elif html.startswith("<!--", lt):
                close = html.find("-->", lt + 2)
                pos = end if close < 0 else close + 3
            elif after in ("!", "?", "/"):
                close = html.find(">", lt + 2)
                pos = end if close < 0 else close + 1
            else:
                self.text("<")
                pos = lt + 1

    def start(self, name: str, attrs: str) -> None:
        if name in _HIDDEN and not attrs.endswith("/"):
            self.hidden[name] = self.hidden.get(name, 0) + 1
        if self.hidden:
            return
        if name in _HEADINGS:
            self.brk(2)
            self.prefix = "#" * int(name[1]) + " "
        elif name in ("ul", "ol"):
            self.brk(1 if self.lists else 2)
            self.lists.append(0 if name == "ol" else -1)
        elif name == "li":
            self.brk(1)
            indent = "  " * min(max(len(self.lists) - 1, 0), 4)
            if self.lists and self.lists[-1] >= 0:
                self.lists[-1] += 1
                self.prefix = f"{indent}{self.lists[-1]}. "
            else:
                self.prefix = f"{indent}- "
        elif name in ("td", "th"):
            if self.cells:
                self.text(" | ")
            self.cells += 1
        elif name == "tr":
            self.brk(1)
            self.cells = 0
        elif name == "pre":
            self.brk(2)
            self.pre += 1
        elif name == "a":
            self.close_link()
            href = _href(attrs, self.base)
            self.link = None if href is None else (href, len(self.parts))
        elif name in _PARAGRAPHS or name in _LINES:
            self.brk(2 if name in _PARAGRAPHS else 1)

    def end(self, name: str) -> None:
        if self.hidden:
            if name in self.hidden:
                self.hidden[name] -= 1
                if not self.hidden[name]:
                    del self.hidden[name]
            return
        if name in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif name == "pre":
            self.pre = max(self.pre - 1, 0)
        elif name == "a":
            self.close_link()
        if name == "li" or name in _HEADINGS:
            self.prefix = ""  # an empty item or heading must not mark the text after it
        if name in _HEADINGS or name in _PARAGRAPHS or name in ("ul", "ol", "pre"):
            self.brk(1 if self.lists else 2)
        elif name in _LINES:
            self.brk(1)

    def close_link(self) -> None:
        if self.link is None:
            return
        href, mark = self.link
        self.link = None
        label = "".join(self.parts[mark:]).strip()
        if label and label != href:
            self.text(f" ({href})")

    def text(self, raw: str) -> None:
        if self.hidden or not raw:
            return
        if "&" in raw:
            raw = unescape(raw)
        if self.pre:
            for number, line in enumerate(raw.split("\n")):
                if number:
                    self.flush()
                    self.parts.append("\n")
                    self.size, self.fresh = self.size + 1, True
                if line:
                    self.put(line, space=False)
            return
        collapsed = _SPACE.sub(" ", raw)
        core = collapsed.strip(" ")
        if core:
            self.put(core, space=self.space or collapsed[0] == " ")
        self.space = collapsed[-1] == " " or (self.space and not core)

    def brk(self, lines: int) -> None:
        if self.parts:
            self.breaks = max(self.breaks, lines)
        self.space = False

    def flush(self) -> None:
        if self.breaks:
            self.parts.append("\n" * self.breaks)
            self.size += self.breaks
            self.breaks, self.fresh = 0, True

    def put(self, core: str, *, space: bool) -> None:
        self.flush()
        lead = " " if space and not self.fresh else ""
        if self.fresh:
            lead, self.prefix = self.prefix, ""
        self.parts += (lead, core)
        self.size += len(lead) + len(core)
        self.fresh = False

    def result(self) -> str:
        self.close_link()
        body = "".join(self.parts)
        if self.title:
            body = f"{self.title}\n\n{body}"
        lines = "\n".join(line.rstrip() for line in body.split("\n"))
        return _BLANK_LINES.sub("\n\n", lines).strip()


def _href(attrs: str, base: str | None) -> str | None:
    """The link's absolute http(s) address, or None: relative without a base, other schemes, long."""
    found = _HREF.search(attrs)
    if found is None:
        return None
    raw = unescape(next(group for group in found.groups() if group is not None)).strip()
    try:
        href = urljoin(base, raw) if base else raw
    except ValueError:
        return None
    # A very long address (tracking, data) is noise to a reader and would let a tiny page balloon.
    if len(href) > 300 or not href.lower().startswith(("http://", "https://")):
        return None
    return href
