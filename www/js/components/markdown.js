// A safe Markdown subset for dashboard cards, built as DOM nodes: the text only ever becomes text nodes.
//
// Blocks: paragraphs, # headings, - and 1. lists, ``` code fences, --- rules.
// Inline: **bold**, *italic* / _italic_, `code`, [links](https://…) (http and https only).

import { h } from "../dom.js";

const HEADING = /^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/;
const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*\d{1,9}[.)]\s+(.*)$/;
const FENCE = /^\s*```/;
const RULE = /^\s*([-*_])(\s*\1){2,}\s*$/;

// One alternation, tried left to right at each position; the first group that matched names the kind.
const INLINE = new RegExp([
  /`([^`\n]+)`/.source, // 1 code
  /\*\*(?=\S)([\s\S]+?)\*\*/.source, // 2 bold
  /__(?=\S)([\s\S]+?)__/.source, // 3 bold
  /\[([^\]\n]+)\]\(\s*([^()\s]+)\s*\)/.source, // 4 text, 5 url
  /\*(?=\S)([^*\n]+?)\*/.source, // 6 italic
  /(?<![\p{L}\p{N}_])_(?=\S)([^_\n]+?)_(?![\p{L}\p{N}_])/.source, // 7 italic
].join("|"), "gu");

/** The URL when it is an absolute http(s) URL, else null (javascript:, data:, relative …). */
export function safeUrl(raw) {
  try {
    const url = new URL(String(raw));
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** Inline Markdown as an array of nodes. */
export function inline(text) {
  const out = [];
  let last = 0;
  for (const match of String(text).matchAll(INLINE)) {
    if (match.index > last) out.push(document.createTextNode(text.slice(last, match.index)));
    last = match.index + match[0].length;
    const [, code, bold1, bold2, label, href, italic1, italic2] = match;
    if (code !== undefined) {
      out.push(h("code", {}, code));
    } else if (bold1 !== undefined || bold2 !== undefined) {
      out.push(h("strong", {}, inline(bold1 ?? bold2)));
    } else if (label !== undefined) {
      const url = safeUrl(href);
      out.push(url
        ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, inline(label))
        : h("span", {}, inline(label)));
    } else {
      out.push(h("em", {}, inline(italic1 ?? italic2)));
    }
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

/** Markdown text as a ``<div class="markdown">`` of safe elements. */
export function renderMarkdown(source) {
  const root = h("div", { class: "markdown" });
  const lines = String(source ?? "").replace(/\r\n?/g, "\n").split("\n");
  let paragraph = [];
  let list = null;

  const flushParagraph = () => {
    if (paragraph.length) root.append(h("p", {}, inline(paragraph.join(" "))));
    paragraph = [];
  };
  const flush = () => {
    flushParagraph();
    list = null;
  };

  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i];
    let match;
    if (!line.trim()) {
      flush();
    } else if (FENCE.test(line)) {
      flush();
      const code = [];
      for (i += 1; i < lines.length && !FENCE.test(lines[i]); i += 1) code.push(lines[i]);
      root.append(h("pre", {}, h("code", {}, code.join("\n"))));
    } else if ((match = HEADING.exec(line))) {
      flush();
      root.append(h(`h${match[1].length}`, {}, inline(match[2])));
    } else if (RULE.test(line)) {
      flush();
      root.append(h("hr"));
    } else if ((match = BULLET.exec(line)) || (match = NUMBERED.exec(line))) {
      flushParagraph();
      const tag = BULLET.test(line) ? "ul" : "ol";
      if (!list || list.tagName.toLowerCase() !== tag) {
        list = h(tag);
        root.append(list);
      }
      list.append(h("li", {}, inline(match[1])));
    } else if (list && /^\s{2,}\S/.test(line)) {
      // An indented line continues the list item above it.
      list.lastElementChild.append(" ", ...inline(line.trim()));
    } else {
      list = null;
      paragraph.push(line.trim());
    }
  }
  flush();
  return root;
}
