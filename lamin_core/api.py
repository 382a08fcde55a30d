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


def view(limit: int = 7) -> None:
    """Print the latest records of each registry that has any."""
    from rich.console import Console

    from .models import REGISTRIES

    console = Console()
    for model in REGISTRIES:
        df = model.to_dataframe(limit=limit)
        if len(df):
            console.print(f"[bold]{model.__name__}[/bold]")
            console.print(df.to_string(max_colwidth=40))


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
