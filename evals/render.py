"""One document, two renderings: blocks -> Markdown and self-contained HTML (images embedded as base64)."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Doc:
    title: str
    blocks: list[tuple] = field(default_factory=list)

    def h(self, text: str, level: int = 2) -> None:
        self.blocks.append(("h", level, text))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def bullets(self, items: list[str]) -> None:
        self.blocks.append(("ul", items))

    def table(self, headers: list[str], rows: list[list]) -> None:
        self.blocks.append(("table", headers, rows))

    def image(self, name: str, png: bytes, alt: str) -> None:
        self.blocks.append(("img", name, png, alt))

    def pre(self, text: str) -> None:
        self.blocks.append(("pre", text))


def fmt(value, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, float):
        if value and abs(value) < 10 ** -digits:
            return f"{value:.2g}"  # tiny energies stay readable
        return f"{value:.{digits}f}".rstrip("0").rstrip(".") or "0"
    return str(value)


def _md_cell(value) -> str:
    return fmt(value).replace("|", "\\|").replace("\n", "<br>")


def to_markdown(doc: Doc, out_dir: Path | None = None) -> str:
    """Markdown; images are written next to the file (``out_dir``) and linked."""
    lines = [f"# {doc.title}", ""]
    for b in doc.blocks:
        kind = b[0]
        if kind == "h":
            lines += ["#" * b[1] + " " + b[2], ""]
        elif kind == "p":
            lines += [b[1], ""]
        elif kind == "ul":
            lines += [f"- {item}" for item in b[1]] + [""]
        elif kind == "table":
            headers, rows = b[1], b[2]
            lines.append("| " + " | ".join(headers) + " |")
            lines.append("|" + "|".join("---" for _ in headers) + "|")
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            lines.append("")
        elif kind == "img":
            if out_dir is not None:
                (out_dir / b[1]).write_bytes(b[2])
            lines += [f"![{b[3]}]({b[1]})", ""]
        elif kind == "pre":
            lines += ["```", b[1], "```", ""]
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem;
color:#1b1f24;line-height:1.45}
table{border-collapse:collapse;margin:.5rem 0 1.2rem;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.3rem .55rem;vertical-align:top;text-align:left}
th{background:#f3f5f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;border:1px solid #eee}pre{background:#f6f8fa;padding:.7rem;overflow:auto}
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #eee}
"""


def to_html(doc: Doc) -> str:
    esc = html.escape
    parts = [f"<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>{esc(doc.title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{esc(doc.title)}</h1>"]
    for b in doc.blocks:
        kind = b[0]
        if kind == "h":
            parts.append(f"<h{b[1]}>{esc(b[2])}</h{b[1]}>")
        elif kind == "p":
            parts.append(f"<p>{esc(b[1])}</p>")
        elif kind == "ul":
            parts.append("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in b[1]) + "</ul>")
        elif kind == "table":
            head = "".join(f"<th>{esc(h)}</th>" for h in b[1])
            body = "".join(
                "<tr>" + "".join(
                    f"<td class=\"num\">{esc(fmt(c))}</td>" if isinstance(c, (int, float)) and not isinstance(c, bool)
                    else f"<td>{esc(fmt(c)).replace(chr(10), '<br>')}</td>" for c in row) + "</tr>"
                for row in b[2])
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif kind == "img":
            data = base64.b64encode(b[2]).decode("ascii")
            parts.append(f"<p><img alt=\"{esc(b[3])}\" src=\"data:image/png;base64,{data}\"></p>")
        elif kind == "pre":
            parts.append(f"<pre>{esc(b[1])}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write(doc: Doc, out_dir: Path, stem: str) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md, page = out_dir / f"{stem}.md", out_dir / f"{stem}.html"
    md.write_text(to_markdown(doc, out_dir), encoding="utf-8")
    page.write_text(to_html(doc), encoding="utf-8")
    return md, page
