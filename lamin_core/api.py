"""Top-level functions of `lamin_core`: save, view, settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from .query.compact_table import Column


def save(records: Iterable[Any]) -> list[Any]:
    """Save many records in one transaction; artifacts are deduplicated and versioned as with `.save()`."""
    from .artifacts.key_checks import check_keys
    from .artifacts.save import save_many
    from .db import engine as db
    from .models import Artifact

    records = list(records)
    artifacts = [r for r in records if isinstance(r, Artifact)]
    check_keys(artifacts)  # before the transaction starts: starting it would flush a changed key
    others = [r for r in records if not isinstance(r, Artifact)]
    with db.write():
        saved = save_many(artifacts) if artifacts else []
        for r in others:
            r.save()
    by_id = {id(a): s for a, s in zip(artifacts, saved)}
    return [by_id.get(id(r), r) for r in records]


def view(limit: int = 7, registries: Iterable[str] | None = None) -> None:
    """Print the latest records of each registry that has any (newest first), as tables that fit the console.

    In CI and pipes (no terminal) the console is 80 columns wide (or `COLUMNS`): uids and keys are shown
    whole on one line, so the other columns are shortened or left out (the caption names them).
    """
    from rich.console import Console

    from .models import REGISTRIES
    from .query.compact_table import render

    wanted = {r.lower() for r in registries} if registries is not None else None
    console = Console()
    for model in REGISTRIES:
        if wanted is not None and model.__name__.lower() not in wanted:
            continue
        df = model.objects().order_by("-id")[:limit].to_dataframe()
        if not len(df):
            continue
        title = f"{model.__name__} ({'latest ' + str(limit) if len(df) == limit else len(df)})"
        console.print(render(title, view_columns(df), console.width, right_aligned=("id", "size")))


# in order of importance: what identifies a record first, then what tells records apart, then the rest
VIEW_COLUMNS = ("uid", "key", "name", "handle", "root", "kind", "status", "is_type", "version", "type_id", "dtype", "suffix",
                "size", "description", "created_at")
WHOLE_COLUMNS = {"id", "uid", "key", "name", "handle", "root"}  # identities: never shortened
SHRINKABLE_COLUMNS = {"description"}


def view_columns(df: Any) -> list["Column"]:
    """The columns `view()` shows of a registry's dataframe, as cells, most important first."""
    from .query.compact_table import Column

    ids = [str(i) for i in df.index]
    columns = [Column("id", ids, whole=True)]
    shown = [c for c in VIEW_COLUMNS if c in df.columns and df[c].notna().any()]
    for c in shown:
        cells = ["" if v is None or v != v else _cell(v) for v in df[c]]
        columns.append(Column(c, cells, whole=c in WHOLE_COLUMNS, shrinkable=c in SHRINKABLE_COLUMNS))
    return columns


def _cell(value: Any) -> str:
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a size read back as float (a column with NULLs)
    return " ".join(str(value).split())  # one line: a newline in a description must not break the row


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

    @property
    def verbosity(self) -> int:
        """How much lamin-core tells while it works: 0 silent (no progress bars), 1 warnings, 2 info (default),
        3 debug. Progress bars show from 2 on, on a terminal only; `LAMIN_PROGRESS=0` turns them off too."""
        from .storage.progress import get_verbosity

        return get_verbosity()

    @verbosity.setter
    def verbosity(self, level: int) -> None:
        from .storage.progress import set_verbosity

        set_verbosity(level)

    @property
    def openlineage_url(self) -> str | None:
        """Where recorded lineage is forwarded live as OpenLineage events (None: nowhere); `LAMIN_OPENLINEAGE_URL`
        overrides it. Setting it saves it in the instance's settings (docs/openlineage.md, "Live forwarding")."""
        from .lineage.forwarding_target import target

        t = target()
        return t.url if t is not None else None

    @openlineage_url.setter
    def openlineage_url(self, url: str | None) -> None:
        from .lineage.forwarding_target import set_instance_option

        set_instance_option("url", url)

    def __repr__(self) -> str:
        from .setup.instance import info

        return "\n".join(f"{k}: {v}" for k, v in info().items())


settings = _Settings()
