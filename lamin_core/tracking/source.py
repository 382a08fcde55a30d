"""Which script or notebook is running, its Transform key, and the source code that decides its version.

The key is the file's path relative to the project it belongs to: the nearest folder above it with a
`.git` (the git root), else the nearest with a `pyproject.toml`, else just the file's name. So
`analysis/clean.py` in a repository is `analysis/clean.py` wherever the clone lives and whatever the
working directory, and two clones of a repository agree on their transforms' keys.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import NamedTuple

SCRIPT_SUFFIXES = {".py": "script", ".r": "script", ".sh": "script", ".jl": "script",
                   ".ipynb": "notebook", ".rmd": "notebook", ".qmd": "notebook"}


class Source(NamedTuple):
    path: Path
    key: str
    kind: str  # script or notebook
    source_code: str


def project_root(path: Path) -> Path | None:
    """The git root above `path`, else the nearest folder with a pyproject.toml, else None."""
    marker: Path | None = None
    for folder in path.parents:
        if (folder / ".git").exists():
            return folder
        if marker is None and (folder / "pyproject.toml").is_file():
            marker = folder
    return marker


def key_for(path: Path) -> str:
    path = path.resolve()
    root = project_root(path)
    return path.relative_to(root).as_posix() if root is not None else path.name


def read_source(path: Path) -> str:
    """The file's text; for a notebook its JSON without outputs and execution counts.

    Running a notebook changes its outputs, not its code: only code and markdown decide its version.
    """
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() != ".ipynb":
        return text
    try:
        nb = json.loads(text)
    except ValueError as e:
        raise ValueError(f"{path} is not a valid notebook: {e}") from None
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def source_of(path: str | os.PathLike[str], key: str | None = None) -> Source:
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"no file at {p}")
    kind = SCRIPT_SUFFIXES.get(p.suffix.lower())
    if kind is None:
        known = ", ".join(sorted(SCRIPT_SUFFIXES))
        raise ValueError(f"{p.name} is not a script or notebook (suffixes: {known})")
    return Source(path=p.resolve(), key=key or key_for(p), kind=kind, source_code=read_source(p))


def running_path() -> Path | None:
    """The notebook or script this process runs, or None (an interactive console, `python -c`)."""
    notebook = _notebook_path()
    if notebook is not None:
        return notebook
    main = sys.modules.get("__main__")
    file = getattr(main, "__file__", None)
    if not file or _in_ipython():
        return None
    p = Path(file).resolve()
    if not p.is_file() or _is_installed(p):
        return None  # `python -m pytest`, `python -m prefect`: a tool's entry point, not the user's script
    return p


def _is_installed(path: Path) -> bool:
    import site  # imported at start-up already; sysconfig is not, and costs milliseconds

    folders = {os.path.dirname(os.__file__), *site.getsitepackages(), site.USER_SITE or ""}
    return any(path.is_relative_to(f) for f in folders if f)


def _in_ipython() -> bool:
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        return ipython.get_ipython() is not None  # type: ignore[attr-defined]
    except Exception:
        return False


def _notebook_path() -> Path | None:
    """A Jupyter notebook's path: from VS Code's kernel variable or the Jupyter server's session name."""
    if not _in_ipython():
        return None
    import IPython

    shell = IPython.get_ipython()  # type: ignore[attr-defined]
    candidates = [shell.user_ns.get("__vsc_ipynb_file__"), shell.user_ns.get("__session__"), os.environ.get("JPY_SESSION_NAME")]
    for c in candidates:
        if c and str(c).endswith(".ipynb"):
            p = Path(str(c))
            if not p.is_absolute():
                p = Path.cwd() / p
            if p.is_file():
                return p.resolve()
    return None
