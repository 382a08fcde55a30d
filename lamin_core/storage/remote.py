"""What a remote store tells about an object without downloading it: size and its own checksum."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import StorageError
from .paths import filesystem


@dataclass(frozen=True)
class RemoteInfo:
    size: int | None
    hash: str | None
    hash_type: str | None
    n_files: int | None
    is_dir: bool


def _etag(info: dict) -> tuple[str | None, str | None]:
    etag = info.get("ETag") or info.get("etag") or info.get("md5")
    if not etag:
        return None, None
    etag = str(etag).strip('"')
    # a multipart upload's ETag is not the content's MD5; keep it, but say what it is
    return etag, ("md5-multipart" if "-" in etag else "md5")


def describe_remote(uri: str) -> RemoteInfo:
    fs = filesystem(uri)
    try:
        info = fs.info(uri)
    except FileNotFoundError as e:
        raise FileNotFoundError(f"nothing at {uri}") from e
    except Exception as e:  # network errors come in many types across fsspec backends
        raise StorageError(f"could not read {uri}: {e}") from e
    if info.get("type") == "directory":
        entries = sorted(fs.find(uri, detail=True).items())
        from .hashing import hash_bytes

        listing = "\n".join(f"{name[len(uri.split('://',1)[-1]):]}\0{_etag(i)[0]}" for name, i in entries)
        return RemoteInfo(
            size=sum(int(i.get("size") or 0) for _, i in entries),
            hash=hash_bytes(listing.encode()) if entries else None,
            hash_type="md5-dir",
            n_files=len(entries),
            is_dir=True,
        )
    digest, hash_type = _etag(info)
    return RemoteInfo(size=info.get("size"), hash=digest, hash_type=hash_type, n_files=None, is_dir=False)
