"""Keys are relative paths inside a storage root; nothing a user types may escape it."""

from __future__ import annotations

from ..errors import InvalidKeyError
from .managed import MANAGED_DIR

MAX_KEY_LENGTH = 1024


def validate_key(key: str) -> str:
    """Return `key` if it is a safe relative path; raise InvalidKeyError saying what is wrong otherwise."""
    if not isinstance(key, str):
        raise InvalidKeyError(f"a key must be a string, not {type(key).__name__}")
    if not key:
        raise InvalidKeyError("a key cannot be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKeyError(f"key is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}")
    bad = next((c for c in key if ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise InvalidKeyError(f"key {key!r} contains the control character {bad!r}")
    if key.startswith("/") or (len(key) > 1 and key[1] == ":" and key[0].isalpha()):
        raise InvalidKeyError(f"key {key!r} is an absolute path; keys are relative to the storage root")
    if "\\" in key:
        raise InvalidKeyError(f"key {key!r} contains a backslash; use '/' to separate folders")
    segments = key.rstrip("/").split("/") if key.endswith("/") and len(key) > 1 else key.split("/")
    for segment in segments:
        if segment == "":
            raise InvalidKeyError(f"key {key!r} has an empty segment ('//')")
        if segment == "..":
            raise InvalidKeyError(f"key {key!r} contains '..', which could escape the storage root")
        if segment == ".":
            raise InvalidKeyError(f"key {key!r} contains a '.' segment; write the path without it")
    if segments[0] == MANAGED_DIR:
        raise InvalidKeyError(f"key {key!r} points into '{MANAGED_DIR}/', which lamin-core manages itself")
    return key


def suffix_of(name: str) -> str:
    """'.tar.gz' style suffixes are kept whole when they are known compound ones."""
    base = name.rstrip("/").rsplit("/", 1)[-1]
    for compound in (".tar.gz", ".vcf.gz", ".fastq.gz", ".fq.gz", ".csv.gz", ".tsv.gz", ".ome.zarr", ".anndata.zarr"):
        if base.endswith(compound) and base != compound:
            return compound
    dot = base.rfind(".")
    return base[dot:] if dot > 0 and len(base) - dot <= 12 else ""
