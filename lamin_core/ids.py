"""Base62 uids, as LaminDB makes them.

Versioned registries (Artifact, Transform, Collection) have a random stem shared by all versions and a
4-character version suffix that counts up ("0000", "0001", ...), so `uid[:-4]` finds every version.
"""

from __future__ import annotations

import os

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(BASE62)}


def base62(n_chars: int) -> str:
    # 248 = 62 * 4: rejecting bytes >= 248 keeps every character equally likely
    out: list[str] = []
    while len(out) < n_chars:
        for b in os.urandom(n_chars * 2):
            if b < 248:
                out.append(BASE62[b % 62])
                if len(out) == n_chars:
                    break
    return "".join(out)


def encode(n: int, width: int) -> str:
    chars = []
    for _ in range(width):
        n, r = divmod(n, 62)
        chars.append(BASE62[r])
    if n:
        raise ValueError(f"{width} base62 characters cannot count past {62**width - 1}")
    return "".join(reversed(chars))


def decode(s: str) -> int:
    n = 0
    for c in s:
        n = n * 62 + _INDEX[c]
    return n


def versioned_uid(stem_chars: int, stem: str | None = None, version_index: int = 0) -> str:
    return (stem or base62(stem_chars)) + encode(version_index, 4)


def next_version_uid(uid: str) -> str:
    return uid[:-4] + encode(decode(uid[-4:]) + 1, 4)
