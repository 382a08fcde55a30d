"""`lamin://KEY` queries: the scheme, and the key rules of lamin-core (interfaces.md, "Keys").

Checked when Snakemake parses the Snakefile, so a bad key fails before any job runs. A query may end in
`?schema=NAME`: the output is validated against the saved `ln.Schema` of that name before it is saved
(Snakemake's `storage.lamin(...)` passes no per-file options to a plugin, so the query carries it).
"""

from urllib.parse import parse_qs

SCHEME = "lamin://"
OPTIONS = ("schema",)


def split_query(query: str) -> tuple[str, dict[str, str]]:
    """`lamin://clean/a.parquet?schema=cells` -> ("clean/a.parquet", {"schema": "cells"})."""
    body = query[len(SCHEME) :] if query.startswith(SCHEME) else query
    key, _, options = body.partition("?")
    return key, {k: v[-1] for k, v in parse_qs(options, keep_blank_values=True).items()}


def key_problem(key: str) -> str | None:
    """What is wrong with `key` (lamin-core's own message), or None when it is a valid artifact key."""
    from lamin_core.storage.keys import validate_key  # lamin-core's rules, so keys mean the same everywhere

    try:
        validate_key(key)
    except ValueError as e:  # InvalidKeyError is a ValueError
        return str(e)
    return None


def query_problem(query: str) -> str | None:
    """What is wrong with a whole query: its key, or an option that is unknown or empty."""
    key, options = split_query(query)
    problem = key_problem(key)
    if problem:
        return problem
    for name, value in options.items():
        if name not in OPTIONS:
            return f"unknown option {name!r} (known: {', '.join(OPTIONS)}), e.g. lamin://{key}?schema=NAME"
        if not value:
            return f"option {name!r} needs a value: lamin://{key}?{name}=NAME"
    return None
