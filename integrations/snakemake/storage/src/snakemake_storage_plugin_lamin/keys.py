"""`lamin://KEY` queries: the scheme and the rules a key must follow (docs: interfaces.md, "Keys").

Checked when Snakemake parses the Snakefile, so a bad key fails before any job runs; kept free of
lamin-core imports because parsing happens on every `snakemake` start.
"""

SCHEME = "lamin://"
MAX_KEY_LENGTH = 1024


def key_problem(key: str) -> str | None:
    """What is wrong with `key`, or None when it is a valid artifact key."""
    if not key:
        return "the key is empty (write lamin://folder/file.ext)"
    if len(key) > MAX_KEY_LENGTH:
        return f"the key is longer than {MAX_KEY_LENGTH} characters"
    if key.startswith("/"):
        return "the key starts with '/' (keys are relative paths)"
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        return "the key contains a control character"
    segments = key.split("/")
    if any(s == ".." for s in segments):
        return "the key contains a '..' segment"
    if any(s == "" for s in segments):
        return "the key contains an empty segment ('//' or a trailing '/')"
    return None
