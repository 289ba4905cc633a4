"""One way to show a toolkit object as HTML: a card (title, facts, tables, notes), one stylesheet.

Every object a user looks at in a notebook (a subscriber list, a plan, a campaign result, an
event log, an API model) renders through :func:`card`, so they look alike and escape alike;
``obj.as_html()`` returns the same HTML for e-mail or a page, ``_repr_html_`` shows it.
Every value is escaped: names and texts come from users' files and from webhooks.

>>> html = card("Plan", {"recipients": "1,204", "credits": 1_204}, notes=["<b>not</b> sent"])
>>> "mta-card" in html, "&lt;b&gt;not&lt;/b&gt; sent" in html
(True, True)
"""

from __future__ import annotations

import html as _html
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["STYLESHEET", "HtmlRepr", "Tone", "card", "escape", "frame_html", "number"]

Tone = Literal["neutral", "ok", "warn", "error"]

#: The one stylesheet: cards in notebooks, the dashboard and the offline report. Scoped to
#: ``.mta-*`` classes so it never restyles the notebook around it (the report's page is
#: ``body.mta-report``).
STYLESHEET: Final = """
.mta-card{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:13px;
  color:#1f2933;border:1px solid #d9dee3;border-left:4px solid #7b8794;border-radius:6px;
  padding:10px 14px;margin:4px 0;max-width:960px;background:#fff;overflow-x:auto}
.mta-card.mta-ok{border-left-color:#2f9e44}.mta-card.mta-warn{border-left-color:#e8590c}
.mta-card.mta-error{border-left-color:#c92a2a}
.mta-card h4{margin:0 0 6px 0;font-size:14px;font-weight:600}
.mta-card table{border-collapse:collapse;margin:4px 0 6px 0}
.mta-card th,.mta-card td{text-align:left;padding:2px 10px 2px 0;vertical-align:top}
.mta-card td.mta-num,.mta-card th.mta-num{text-align:right;font-variant-numeric:tabular-nums}
.mta-card table.mta-frame th{border-bottom:1px solid #d9dee3;font-weight:600}
.mta-card table.mta-frame td{border-bottom:1px solid #f0f2f4}
.mta-card .mta-facts th{color:#52606d;font-weight:500;padding-right:16px}
.mta-card .mta-caption{margin:8px 0 2px 0;font-weight:600}
.mta-card ul.mta-notes{margin:6px 0 0 0;padding-left:18px}
.mta-card .mta-muted{color:#7b8794}
.mta-dashboard h2,.mta-dashboard h3{margin:4px 0}
.mta-dashboard .mta-status{color:#57606a}
.mta-tile{border:1px solid #d0d7de;border-radius:8px;padding:8px 14px;margin:4px;min-width:150px;
  background:#f6f8fa}
.mta-tile .mta-tile-label{font-size:12px;color:#57606a}
.mta-tile .mta-tile-value{font-size:26px;font-weight:600}
.mta-tile .mta-tile-note{font-size:11px;line-height:1.35;color:#6e7781;max-width:220px}
.mta-dashboard .mta-muted{color:#7b8794}
.mta-dashboard .mta-error{color:#c92a2a}
.mta-dashboard .mta-scroll{max-height:320px;overflow:auto}
.mta-verdict{border:1px solid #d0d7de;border-left:4px solid #1f77b4;border-radius:8px;
padding:6px 14px;margin:4px 0 8px}
.mta-verdict h3{font-size:15px;margin:4px 0}
.mta-verdict ul{margin:4px 0;padding-left:18px}
.mta-verdict li{margin:3px 0;line-height:1.4}
.mta-verdict li[data-significant='true']{font-weight:600}
.mta-verdict .mta-observational{font-size:12px}
.mta-empty{border:1px dashed #d0d7de;border-radius:8px;padding:14px;margin:6px 0;
text-align:center;color:#57606a;font-size:15px}
.mta-dashboard .mta-chart-slot{min-width:0;overflow:hidden}
body.mta-report{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
  margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
.mta-report h1{font-size:1.6rem;margin-bottom:.2rem}
.mta-report h2{font-size:1.2rem;margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
.mta-report p.meta{color:#666;margin-top:0}
.mta-report .note{color:#555;font-size:.85rem}
table.mta{border-collapse:collapse;font-size:.85rem;margin:.6rem 0}
table.mta th,table.mta td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}
table.mta th{background:#f5f5f5}
table.mta td:first-child,table.mta td:nth-child(2){text-align:left}
"""


def escape(value: object) -> str:
    """``value`` as text safe inside HTML (``None`` and NaN show as an en dash)."""
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    return _html.escape(str(value), quote=True)


def number(value: float | int) -> str:
    """A count with thousands separators (``1,204``); a float with at most 3 significant digits."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _cell(value: object) -> tuple[str, bool]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return escape(number(value)), True
    return escape(value), False


def frame_html(df: pd.DataFrame, *, max_rows: int = 20, caption: str | None = None) -> str:
    """A DataFrame as a plain escaped table (no index; at most ``max_rows`` rows, then a count).

    >>> import pandas as pd
    >>> frame_html(pd.DataFrame({"name": ["<i>x</i>"], "n": [1200]})).count("&lt;i&gt;")
    1
    """
    cols = [str(c) for c in df.columns]
    numeric = [bool(df[c].dtype.kind in "iuf") and df[c].dtype.kind != "b" for c in df.columns]
    head = "".join(
        f"<th class='mta-num'>{escape(c)}</th>" if num else f"<th>{escape(c)}</th>"
        for c, num in zip(cols, numeric, strict=True)
    )
    rows: list[str] = []
    for record in df.head(max_rows).itertuples(index=False, name=None):
        cells = []
        for value in record:
            text, num = _cell(value)
            cells.append(f"<td class='mta-num'>{text}</td>" if num else f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = len(df) - max_rows
    tail = f"<p class='mta-muted'>{number(more)} more rows not shown.</p>" if more > 0 else ""
    cap = f"<p class='mta-caption'>{escape(caption)}</p>" if caption else ""
    if not rows:
        return cap + "<p class='mta-muted'>No rows.</p>"
    return f"{cap}<table class='mta-frame'><tr>{head}</tr>{''.join(rows)}</table>{tail}"


def card(
    title: str,
    facts: Mapping[str, object] | Iterable[tuple[str, object]] = (),
    *,
    tables: Sequence[tuple[str, pd.DataFrame]] = (),
    notes: Sequence[str] = (),
    tone: Tone = "neutral",
    with_style: bool = True,
) -> str:
    """The HTML of one card: a title, label/value facts, captioned tables and notes.

    ``with_style=False`` leaves the stylesheet out (a page that already has it).
    """
    pairs = list(facts.items()) if isinstance(facts, Mapping) else list(facts)
    fact_rows = "".join(f"<tr><th>{escape(k)}</th><td>{_cell(v)[0]}</td></tr>" for k, v in pairs)
    parts = [f"<h4>{escape(title)}</h4>"]
    if fact_rows:
        parts.append(f"<table class='mta-facts'>{fact_rows}</table>")
    parts.extend(frame_html(df, caption=caption) for caption, df in tables)
    if notes:
        parts.append("<ul class='mta-notes'>" + "".join(f"<li>{escape(n)}</li>" for n in notes))
        parts.append("</ul>")
    style = f"<style>{STYLESHEET}</style>" if with_style else ""
    tone_class = "" if tone == "neutral" else f" mta-{tone}"
    return f"{style}<div class='mta-card{tone_class}'>{''.join(parts)}</div>"


class HtmlRepr:
    """Mixin: ``_repr_html_`` shows :meth:`as_html`, which subclasses build with :func:`card`."""

    def as_html(self) -> str:
        """This object as a self-contained HTML fragment (styles included)."""
        raise NotImplementedError

    def _repr_html_(self) -> str:
        return self.as_html()
