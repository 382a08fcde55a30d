"""Tables that fit the console (80 columns in CI, where there is no terminal) without folding values.

A uid or key folded over two lines cannot be copied, searched for or compared by eye, so the layout here
never wraps a cell: identity columns (uid, key, name) are shown whole, the other columns are added in order
of importance while they fit, and only free text (a description) is shortened with an ellipsis. A column
that does not fit is left out, and the table's caption says which ones were.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

GAP = 2  # characters between two columns (rich's padding (0, 1) without edges)
MIN_SHORTENED = 10  # a shortened text column narrower than this says nothing: leave it out instead
ELLIPSIS = "…"


@dataclass
class Column:
    """A column to lay out: `whole` columns are never shortened (uids, keys); `shrinkable` ones may be."""

    name: str
    cells: list[str]
    whole: bool = False
    shrinkable: bool = False

    @property
    def natural_width(self) -> int:
        return max([len(self.name), *(len(c) for c in self.cells)])


def fit(columns: Sequence[Column], width: int) -> tuple[list[tuple[Column, int]], list[str]]:
    """Choose columns (in the given order of importance) and their widths so the table is at most `width`.

    Returns the chosen (column, width) pairs in their original order and the names of the columns left
    out. `whole` columns always come first; if even they do not fit, the widest is shortened in its middle
    (both ends of a key stay readable) rather than folded.
    """
    chosen: dict[int, int] = {}
    used = -GAP
    for i, col in enumerate(columns):
        if col.whole:
            chosen[i] = col.natural_width
            used += col.natural_width + GAP
    if used > width and chosen:  # too long keys: shorten the widest whole column, never fold it
        widest = max(chosen, key=lambda i: chosen[i])
        chosen[widest] = max(MIN_SHORTENED, chosen[widest] - (used - width))
        used = sum(chosen.values()) + GAP * (len(chosen) - 1)
    for i, col in enumerate(columns):
        if i in chosen:
            continue
        room = width - used - GAP
        if col.natural_width <= room:
            chosen[i] = col.natural_width
        elif col.shrinkable and room >= MIN_SHORTENED:
            chosen[i] = room
        else:
            continue
        used += chosen[i] + GAP
    kept = [(col, chosen[i]) for i, col in enumerate(columns) if i in chosen]
    dropped = [col.name for i, col in enumerate(columns) if i not in chosen]
    return kept, dropped


def shorten(text: str, width: int, middle: bool = False) -> str:
    """`text` in at most `width` characters: cut at the end (free text) or in the middle (keys, paths)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    if middle:
        head = (width - 1) // 2
        tail = width - 1 - head
        return text[:head] + ELLIPSIS + (text[-tail:] if tail else "")
    return text[: width - 1] + ELLIPSIS


def render(title: str, columns: Sequence[Column], width: int, right_aligned: Sequence[str] = ()) -> Any:
    """A rich Table of the columns that fit in `width`, with widths fixed so rich never re-wraps them."""
    from rich import box
    from rich.table import Table

    kept, dropped = fit(columns, width)
    caption = f"not shown: {', '.join(dropped)}" if dropped else None
    table = Table(
        title=shorten(title, width),
        title_justify="left",
        caption=shorten(caption, width) if caption else None,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=True,
    )
    for col, w in kept:
        table.add_column(
            col.name, width=w, min_width=w, max_width=w, no_wrap=True, overflow="ellipsis",
            justify="right" if col.name in right_aligned else "left",
        )
    n_rows = max((len(c.cells) for c, _ in kept), default=0)
    for r in range(n_rows):
        table.add_row(*(shorten(col.cells[r], w, middle=col.whole) for col, w in kept))
    return table
