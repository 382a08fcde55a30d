"""An nf-core pipeline's modules: each process's module version (`modules.json`) and documentation (`meta.yml`).

An nf-core pipeline repository holds `modules.json`
(`{"repos": {<url>: {"modules": {<install dir>: {<module>: {branch, git_sha, installed_by, patch?}}}}}}`) and,
per installed module, `modules/<install dir>/<module>/meta.yml` (`name`, `description`, `keywords`,
`tools: [{<tool>: {description, homepage, documentation, licence: [...], identifier}}]`) beside its
`main.nf` (`process FASTQC { ... }`).

Two readers give the same `PipelineModules`: the `nf-core` package's own classes (`ModulesJson`,
`NFCoreComponent`) when it is installed (`pip install 'lamin-nextflow[nf-core]'`), and the plain files
otherwise (JSON and YAML). Which one ran is kept (`PipelineModules.backend`) so a user can tell.

A Nextflow process name (`NFCORE_DEMO:DEMO:SAMTOOLS_SORT`) maps to a module by its last segment: the
process a module's `main.nf` declares (nf-core's convention: the module path upper-cased, `/` -> `_`),
through `include { X as Y }` aliases in the pipeline's workflows.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

BACKENDS = ("nf-core", "plain")
_PROCESS_RE = re.compile(r"^\s*process\s*(\w*)\s*{")  # the line nf-core's NFCoreComponent reads the name from
_INCLUDE_RE = re.compile(r"include\s*{\s*(.+?)\s*}\s*from\s*['\"](.+?)['\"]", re.S)
_WORKFLOW_FOLDERS = ("workflows", "subworkflows")  # where an nf-core pipeline includes its modules


@dataclass(frozen=True)
class NfCoreModule:
    """One installed module, as `modules.json` and its `meta.yml` describe it."""

    name: str  # "fastqc", "samtools/sort"
    process: str  # the process its main.nf declares: "FASTQC", "SAMTOOLS_SORT"
    repository: str  # the modules repository's URL in modules.json
    install_dir: str  # "nf-core"
    git_sha: str | None = None
    branch: str | None = None
    installed_by: tuple[str, ...] = ()
    patched: bool = False
    description: str | None = None
    keywords: tuple[str, ...] = ()
    tools: tuple[dict[str, Any], ...] = ()  # {name, description, homepage, documentation, licence: [...], ...}

    def facets(self) -> dict[str, Any]:
        """What the process Transform keeps under `facets["nf_core"]` (JSON-shaped, empty fields left out)."""
        data = {
            "module": self.name,
            "git_sha": self.git_sha,
            "branch": self.branch,
            "repository": self.repository,
            "installed_by": list(self.installed_by),
            "patched": self.patched or None,
            "description": self.description,
            "keywords": list(self.keywords),
            "tools": [dict(t) for t in self.tools],
        }
        return {k: v for k, v in data.items() if v not in (None, [], "")}


@dataclass
class PipelineModules:
    """Every module of one pipeline repository, by the process name it declares."""

    directory: str
    backend: str  # "nf-core" or "plain": which reader made this
    modules: dict[str, NfCoreModule] = field(default_factory=dict)  # process name -> module
    aliases: dict[str, str] = field(default_factory=dict)  # `include { FASTQC as FASTQC_RAW }`: alias -> process
    problems: list[tuple[str, str]] = field(default_factory=list)  # (file, why): a meta.yml that could not be read

    def for_process(self, process: str) -> NfCoreModule | None:
        """The module of a fully qualified process name (`NFCORE_DEMO:DEMO:FASTQC`), or None (a local process)."""
        short = process.rsplit(":", 1)[-1]
        short = self.aliases.get(short, short)
        return self.modules.get(short)


# ---- finding the pipeline repository ----

def nextflow_assets_dir(repository: str | None) -> Path | None:
    """Where `nextflow run <owner>/<name>` keeps its clone: $NXF_ASSETS, else $NXF_HOME/assets, else ~/.nextflow/assets."""
    if not repository or "://" not in repository:
        return None
    slug = repository.split("://", 1)[1].split("/", 1)[-1].removesuffix(".git").strip("/")
    if slug.count("/") != 1:
        return None
    root = os.environ.get("NXF_ASSETS") or os.path.join(os.environ.get("NXF_HOME") or os.path.expanduser("~/.nextflow"), "assets")
    return Path(root, slug)


def pipeline_dir(candidates: list[str | Path | None]) -> Path | None:
    """The first candidate folder that is an nf-core pipeline repository (holds `modules.json`)."""
    for folder in candidates:
        if folder and Path(folder, "modules.json").is_file():
            return Path(folder)
    return None


# ---- reading: shared pieces ----

def _plain(value: Any) -> Any:
    """ruamel's round-trip types (CommentedMap, DoubleQuotedScalarString, ScalarFloat) as plain JSON types:
    the facets are stored as JSON and events are pickled to a recording process."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def _tools(meta: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """`tools: [{fastqc: {...}}]` as `[{name: fastqc, ..., licence: [...]}]` (nf-core spells it `licence`; the
    Nextflow module registry `license`; a single string becomes a list)."""
    out = []
    for entry in meta.get("tools") or []:
        if not isinstance(entry, dict):
            continue
        for name, info in entry.items():
            info = info if isinstance(info, dict) else {}
            licence = info.get("licence", info.get("license"))
            licences = [str(x) for x in licence] if isinstance(licence, list) else ([str(licence)] if licence else [])
            tool = {"name": str(name)}
            for key in ("description", "homepage", "documentation", "tool_dev_url", "doi", "identifier"):
                if info.get(key) not in (None, ""):
                    tool[key] = str(info[key]).strip()
            tool["licence"] = licences
            out.append(tool)
    return tuple(out)


def _module(name: str, entry: dict[str, Any], repo: str, install_dir: str, meta: dict[str, Any] | None,
            process: str | None) -> NfCoreModule:
    meta = meta or {}
    keywords = meta.get("keywords") or []
    description = meta.get("description")
    return NfCoreModule(
        name=name,
        process=process or name.upper().replace("/", "_"),  # nf-core's naming rule when main.nf says nothing
        repository=repo,
        install_dir=install_dir,
        git_sha=entry.get("git_sha"),
        branch=entry.get("branch"),
        installed_by=tuple(str(x) for x in entry.get("installed_by") or ()),
        patched=bool(entry.get("patch")),
        description=" ".join(str(description).split()) if description else None,
        keywords=tuple(str(k) for k in keywords if k is not None) if isinstance(keywords, list) else (),
        tools=_tools(meta),
    )


def _entries(doc: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(repo url, install dir, module name, entry) of every module in a parsed modules.json."""
    out = []
    for repo, repo_entry in (doc.get("repos") or {}).items():
        for install_dir, modules in ((repo_entry or {}).get("modules") or {}).items():
            for name, entry in (modules or {}).items():
                if isinstance(entry, dict):
                    out.append((repo, install_dir, name, entry))
    return out


def _aliases(directory: Path) -> dict[str, str]:
    """`include { FASTQC as FASTQC_RAW } from '../modules/nf-core/fastqc/main'`: {FASTQC_RAW: FASTQC}.

    Only the pipeline's own `main.nf` and workflows are read (never a launch dir's work/ or results/)."""
    files = sorted(directory.glob("*.nf"))
    for folder in _WORKFLOW_FOLDERS:
        files += sorted(Path(directory, folder).rglob("*.nf")) if Path(directory, folder).is_dir() else []
    aliases: dict[str, str] = {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for symbols, link in _INCLUDE_RE.findall(text):
            if "/modules/" not in f"/{link}":
                continue
            for symbol in symbols.split(";"):
                name, _, alias = (part.strip() for part in symbol.partition(" as "))
                if alias:
                    aliases[alias] = name
    return aliases


def _process_of(main_nf: Path) -> str | None:
    try:
        with open(main_nf, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                match = _PROCESS_RE.search(line)
                if match:
                    return match.group(1) or None
    except OSError:
        return None
    return None


# ---- the two readers ----

def _read_plain(directory: Path, out: PipelineModules) -> None:
    import yaml  # PyYAML, a dependency of lamin-nextflow; imported here, only for nf-core pipelines

    doc = json.loads(Path(directory, "modules.json").read_text(encoding="utf-8"))
    for repo, install_dir, name, entry in _entries(doc):
        folder = Path(directory, "modules", install_dir, name)
        meta = None
        if Path(folder, "meta.yml").is_file():
            try:
                meta = _plain(yaml.safe_load(Path(folder, "meta.yml").read_text(encoding="utf-8")))
            except (OSError, yaml.YAMLError) as exc:
                out.problems.append((str(folder / "meta.yml"), f"not readable ({type(exc).__name__}: {exc})"))
        module = _module(name, entry, repo, install_dir, meta if isinstance(meta, dict) else None,
                         _process_of(folder / "main.nf"))
        out.modules.setdefault(module.process, module)


def _read_nf_core(directory: Path, out: PipelineModules) -> None:
    """Through nf-core's own classes: `ModulesJson` for versions, `NFCoreComponent` for meta.yml and the
    process name (the same regex nf-core lints with)."""
    from nf_core.components.nfcore_component import NFCoreComponent
    from nf_core.modules.modules_json import ModulesJson

    modules_json = ModulesJson(directory, no_prompts=True)
    modules_json.load()  # raises UserWarning on a broken file: the caller reports it
    doc = modules_json.get_modules_json()
    for repo, install_dir, name, entry in _entries(doc):
        folder = Path(directory, "modules", install_dir, name)
        sha = modules_json.get_module_version(name, repo, install_dir)
        meta, process = None, None
        if folder.is_dir():
            component = NFCoreComponent(name, repo, folder, "pipeline", directory, "modules")
            process = component.process_name or None
            try:
                meta = component.load_meta_yml() if hasattr(component, "load_meta_yml") else _ruamel_load(folder)
            except Exception as exc:  # ruamel's errors have no common base worth importing here
                out.problems.append((str(folder / "meta.yml"), f"not readable ({type(exc).__name__}: {exc})"))
        module = _module(name, {**entry, "git_sha": sha}, repo, install_dir,
                         _plain(meta) if isinstance(meta, dict) else None, process)
        out.modules.setdefault(module.process, module)


def _ruamel_load(folder: Path) -> Any:
    """nf-core 3.x has no `load_meta_yml()`: read the file with the YAML loader nf-core itself uses."""
    from nf_core.components.components_utils import yaml

    path = Path(folder, "meta.yml")
    if not path.is_file():
        return None
    with open(path) as fh:
        return yaml.load(fh)


def nf_core_available() -> bool:
    """Whether the `nf-core` package can be imported; found without importing it (its modules cost 0.2-0.3 s,
    paid only by the reader that uses them)."""
    from importlib.util import find_spec

    try:
        return find_spec("nf_core") is not None
    except (ImportError, ValueError):  # not installed, or made unimportable: the plain files
        return False


def read_modules(directory: Path, backend: str | None = None) -> PipelineModules | None:
    """The modules of the pipeline repository `directory` (None without a readable modules.json).

    `backend`: "nf-core", "plain", or None for nf-core's code when it is installed."""
    if not Path(directory, "modules.json").is_file():
        return None
    chosen = backend or ("nf-core" if nf_core_available() else "plain")
    out = PipelineModules(directory=str(directory), backend=chosen)
    reader: Callable[[Path, PipelineModules], None] = _read_nf_core if chosen == "nf-core" else _read_plain
    try:
        reader(Path(directory), out)
    except (OSError, ValueError, UserWarning) as exc:
        out.problems.append((str(Path(directory, "modules.json")), f"not readable ({type(exc).__name__}: {exc})"))
        return out
    out.aliases = _aliases(Path(directory))
    return out
