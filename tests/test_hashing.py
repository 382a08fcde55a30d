"""Stored hashes are BLAKE3 of the whole content, checked against an independent implementation
(`blake3_reference.py`, written from the specification), and the one-pass copy-and-hash save path gives
the same hash as hashing the file on its own."""

from __future__ import annotations

import base64
import os

import blake3
import pytest

import lamin_core as ln
from lamin_core.artifacts.create import DEFER_HASH_FROM
from lamin_core.storage import hashing

from blake3_reference import blake3_hex


def stored_form(hex_digest: str) -> str:
    """lamin-core's documented encoding: 128 bits of the digest as 22 URL-safe base64 characters."""
    return base64.urlsafe_b64encode(bytes.fromhex(hex_digest)[:16]).decode()[:22]


def pattern(n: int, seed: int = 0) -> bytes:
    return bytes((i * 7 + seed) % 251 for i in range(n))


def test_reference_implementation_matches_the_published_vector() -> None:
    # BLAKE3 of the empty input, from the BLAKE3 specification's test vectors
    assert blake3_hex(b"") == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"


@pytest.mark.parametrize("size", [0, 1, 64, 1024, 1025, 5 * 1024 + 3, 17 * 1024])
def test_saved_file_hash_is_the_blake3_of_its_bytes(instance, tmp_path, size: int) -> None:
    data = pattern(size, seed=size)
    path = tmp_path / f"f{size}.bin"
    path.write_bytes(data)
    artifact = ln.Artifact(path, key=f"hashing/f{size}.bin").save()
    assert artifact.hash_type == "blake3"
    assert artifact.hash == stored_form(blake3_hex(data))
    assert ln.Artifact.get(key=f"hashing/f{size}.bin").hash == stored_form(blake3_hex(data))


def test_folder_hash_is_blake3_over_sorted_paths_and_file_hashes(tmp_path) -> None:
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    files = {"b.txt": pattern(10, 1), "a.txt": pattern(2000, 2), "sub/c.txt": pattern(1500, 3)}
    for rel, data in files.items():
        (folder / rel).write_bytes(data)
    lines = "".join(f"{rel}\0{stored_form(blake3_hex(files[rel]))}\n" for rel in sorted(files))
    digest, size, n = hashing.hash_dir(folder)
    assert digest == stored_form(blake3_hex(lines.encode()))
    assert (size, n) == (sum(map(len, files.values())), 3)


def test_large_files_hash_the_same_through_mmap_and_one_pass_copy(tmp_path) -> None:
    data = os.urandom(hashing.THREADED_FROM + 12345)  # past the memory-mapped, multi-threaded threshold
    src = tmp_path / "large.bin"
    src.write_bytes(data)
    expected = base64.urlsafe_b64encode(blake3.blake3(data).digest()[:16]).decode()[:22]
    assert hashing.hash_file(src) == expected
    assert hashing.copy_and_hash(src, tmp_path / "copy.bin") == expected
    assert (tmp_path / "copy.bin").read_bytes() == data


def test_saving_a_large_file_hashes_it_while_copying(instance, tmp_path) -> None:
    """Files of DEFER_HASH_FROM bytes and more are hashed during the copy into storage, in one pass."""
    src = tmp_path / "big.bin"
    chunk = os.urandom(1 << 20)
    with open(src, "wb") as f:
        for i in range(DEFER_HASH_FROM // len(chunk) + 1):
            f.write(chunk[i:] + chunk[:i])
    artifact = ln.Artifact(src, key="hashing/big.bin")
    assert artifact.hash is None  # deferred: known only after the copy
    artifact.save()
    assert artifact.hash == hashing.hash_file(src)
    stored = artifact.cache()
    assert os.path.getsize(stored) == os.path.getsize(src)
    assert hashing.hash_file(stored) == artifact.hash
    # the same content saved again is the same artifact
    again = ln.Artifact(src, key="hashing/big-again.bin").save()
    assert again.id == artifact.id
