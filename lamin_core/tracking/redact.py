"""Secrets never reach the database: values under secret-looking names are replaced before saving.

A name is split into words (`db_password`, `dbPassword`, `DB-PASSWORD` -> db, password) and is secret when
a word is one of `SECRET_WORDS`, ends like one (`accesstoken`, `dbpassword`), or two neighbouring words
form one of `SECRET_PAIRS` (`api_key`, `AWS_SECRET_ACCESS_KEY`, `session_id`). A plain `key` is not a
secret: in lamin-core it is an artifact's or transform's storage key (`ingest(key="x/data.parquet")`), and
hiding it would hide what a run wrote. Word matching also keeps `author`, `tokenizer` and `monkey` visible.
lamin-prefect judges names the same way.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "***"
SECRET_WORDS = frozenset(
    {
        "password", "passwd", "pwd", "passphrase", "secret", "secrets", "token", "tokens", "credential",
        "credentials", "creds", "apikey", "auth", "oauth", "authorization", "cookie", "cookies", "signature",
        "jwt", "bearer", "sessionid", "privatekey", "accesskey", "secretkey",
    }
)  # fmt: skip
SECRET_ENDINGS = ("token", "tokens", "password", "passwd", "secret", "secrets", "credentials", "apikey")
SECRET_PAIRS = frozenset(
    {("api", "key"), ("access", "key"), ("secret", "key"), ("private", "key"), ("ssh", "key"), ("master", "key"),
     ("encryption", "key"), ("signing", "key"), ("hmac", "key"), ("sas", "key"), ("account", "key"),
     ("client", "secret"), ("session", "id")}
)  # fmt: skip
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)([^@/\s]+)(@)")


def is_secret_name(name: str) -> bool:
    words = [w.lower() for w in _WORD_SPLIT.split(name) if w]
    if any(w in SECRET_WORDS or w.endswith(SECRET_ENDINGS) for w in words):
        return True
    return any(pair in SECRET_PAIRS for pair in zip(words, words[1:]))


def redact(value: Any, name: str = "") -> Any:
    """A copy of `value` with secret-looking entries replaced, recursively; passwords in URLs too."""
    if name and is_secret_name(name) and value not in (None, "", False):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str) and "://" in value:
        return _URL_PASSWORD.sub(r"\1" + REDACTED + r"\3", value)
    return value


def redact_argv(argv: list[str]) -> list[str]:
    """A command line with the values of secret-looking options hidden: `--token X`, `--password=X`."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        if arg.startswith("-") and "=" in arg:
            name, _, value = arg.partition("=")
            out.append(f"{name}={REDACTED}" if is_secret_name(name.lstrip("-")) and value else redact(arg))
            continue
        if arg.startswith("-") and is_secret_name(arg.lstrip("-")):
            hide_next = True
        out.append(redact(arg))
    return out
