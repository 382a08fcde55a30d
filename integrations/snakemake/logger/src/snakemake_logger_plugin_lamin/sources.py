"""Source code of a workflow and of its rules, read from the Snakefiles.

The log records carry no rule code (only each job's formatted shell command, which differs per job and
so cannot version a rule), so a rule's source is its definition block in the Snakefile: `rule NAME:` or
`checkpoint NAME:` and everything indented under it. Files pulled in with `include:` are read too.
A rule whose block is not found (from a `module`, a `use rule`, or generated code) has no source.
"""

import os
import re

_RULE_HEADER = re.compile(r"^(?P<indent>[ \t]*)(?:rule|checkpoint)[ \t]+(?P<name>\w+)[ \t]*:")
_INCLUDE = re.compile(r"""^[ \t]*include[ \t]*:[ \t]*(?P<q>["'])(?P<path>[^"']+)(?P=q)""", re.MULTILINE)
# `include:` chains are followed at most this deep, which also stops include cycles.
_MAX_INCLUDE_DEPTH = 10


def _indent_width(line: str) -> int:
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def rule_blocks(text: str) -> dict[str, str]:
    """Map each named rule or checkpoint in a Snakefile's text to its definition block."""
    lines = text.splitlines()
    blocks: dict[str, str] = {}
    i = 0
    while i < len(lines):
        m = _RULE_HEADER.match(lines[i])
        if not m:
            i += 1
            continue
        header_width = _indent_width(lines[i])
        j = i + 1
        while j < len(lines):
            line = lines[j]
            if line.strip() and _indent_width(line) <= header_width:
                break
            j += 1
        block = lines[i:j]
        while block and not block[-1].strip():  # trailing blank lines belong to no rule
            block.pop()
        blocks.setdefault(m.group("name"), "\n".join(block) + "\n")
        i = j
    return blocks


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def snakefile_rule_blocks(snakefile: str) -> dict[str, str]:
    """Rule blocks of a Snakefile and of the files it includes (paths relative to the including file)."""
    blocks: dict[str, str] = {}
    seen: set[str] = set()

    def visit(path: str, depth: int) -> None:
        path = os.path.abspath(path)
        if path in seen or depth > _MAX_INCLUDE_DEPTH:
            return
        seen.add(path)
        text = _read(path)
        if text is None:
            return
        for name, block in rule_blocks(text).items():
            blocks.setdefault(name, block)
        for m in _INCLUDE.finditer(text):
            visit(os.path.join(os.path.dirname(path), m.group("path")), depth + 1)

    visit(snakefile, 0)
    return blocks


def workflow_source(snakefile: str, configfiles: list[str], workdir: str) -> str | None:
    """The Snakefile's text followed by each config file's content.

    Both decide what the workflow does, so both version the workflow's Transform.
    """
    text = _read(snakefile)
    if text is None:
        return None
    parts = [text]
    for cf in configfiles:
        path = cf if os.path.isabs(cf) else os.path.join(workdir, cf)
        content = _read(path)
        if content is not None:
            parts.append(f"\n# ---- configfile: {cf} ----\n{content}")
    return "".join(parts)


def load_config(configfiles: list[str], workdir: str) -> dict[str, object]:
    """The merged content of the config files (later files win, as in Snakemake); unreadable ones skipped."""
    import yaml  # Snakemake depends on PyYAML; imported here because only workflow starts need it

    merged: dict[str, object] = {}
    for cf in configfiles:
        path = cf if os.path.isabs(cf) else os.path.join(workdir, cf)
        text = _read(path)
        if text is None:
            continue
        try:
            data = yaml.safe_load(text)  # YAML is a superset of JSON: both config formats parse
        except yaml.YAMLError:
            continue
        if isinstance(data, dict):
            merged.update(data)
    return merged
