"""`lamin://KEY` queries: the scheme, and the key rules of lamin-core (interfaces.md, "Keys").

Checked when Snakemake parses the Snakefile, so a bad key fails before any job runs.
"""

SCHEME = "lamin://"


def key_problem(key: str) -> str | None:
    """What is wrong with `key` (lamin-core's own message), or None when it is a valid artifact key."""
    from lamin_core.storage.keys import validate_key  # lamin-core's rules, so keys mean the same everywhere

    try:
        validate_key(key)
    except ValueError as e:  # InvalidKeyError is a ValueError
        return str(e)
    return None
