"""Top-level functions of `lamin_core`: save, view, settings."""

from __future__ import annotations

from typing import Any, Iterable


def save(records: Iterable[Any]) -> list[Any]:
    """Save many records in one transaction; artifacts are deduplicated and versioned as with `.save()`."""
    from .artifacts.save import save_many
    from .db import engine as db
    from .models import Artifact

    records = list(records)
    artifacts = [r for r in records if isinstance(r, Artifact)]
    others = [r for r in records if not isinstance(r, Artifact)]
    with db.write():
        saved = save_many(artifacts) if artifacts else []
        for r in others:
            r.save()
    by_id = {id(a): s for a, s in zip(artifacts, saved)}
    return [by_id.get(id(r), r) for r in records]


def view(limit: int = 7, registries: Iterable[str] | None = None) -> None:
    """Print the latest records of each registry that has any (newest first), in compact columns."""
    from rich.console import Console
    from rich.table import Table

    from .models import REGISTRIES

    wanted = {r.lower() for r in registries} if registries is not None else None
    console = Console()
    for model in REGISTRIES:
        if wanted is not None and model.__name__.lower() not in wanted:
            continue
        df = model.objects().order_by("-id")[:limit].to_dataframe()
        if not len(df):
            continue
        shown = [c for c in VIEW_COLUMNS if c in df.columns] or list(df.columns)
        table = Table(title=f"{model.__name__} ({'latest ' + str(limit) if len(df) == limit else len(df)})", title_justify="left")
        table.add_column("id", justify="right")
        for c in shown:
            table.add_column(c, overflow="fold", max_width=48)
        for rid, row in df[shown].iterrows():
            table.add_row(str(rid), *("" if v is None or v != v else _cell(v) for v in row))
        console.print(table)


VIEW_COLUMNS = ("uid", "key", "name", "handle", "root", "description", "kind", "status", "suffix", "size", "created_at")


def _cell(value: Any) -> str:
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


class _Settings:
    """`ln.settings`: the connected instance's settings, read-only views of them."""

    @property
    def instance(self) -> Any:
        from .db import engine as db

        return db.settings()

    @property
    def storage(self) -> Any:
        from .artifacts.save import default_storage
        from .db import engine as db

        with db.read() as s:
            return default_storage(s)

    def __repr__(self) -> str:
        from .setup.instance import info

        return "\n".join(f"{k}: {v}" for k, v in info().items())


settings = _Settings()
