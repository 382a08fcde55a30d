"""BLAKE3 written from its specification in plain Python: an independent check of the hashes lamin-core
stores (it shares no code with the `blake3` package). Slow: use it on small inputs only.

Reference: the BLAKE3 paper, section 2 and its reference implementation's structure (chunks of 1024
bytes, blocks of 64, a binary tree of parent nodes, the root flag on the last compression).
"""

from __future__ import annotations

IV = (0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19)
PERMUTATION = (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8)
CHUNK_START, CHUNK_END, PARENT, ROOT = 1, 2, 4, 8
MASK = 0xFFFFFFFF


def _rotr(x: int, n: int) -> int:
    return ((x >> n) | (x << (32 - n))) & MASK


def _g(s: list[int], a: int, b: int, c: int, d: int, x: int, y: int) -> None:
    s[a] = (s[a] + s[b] + x) & MASK
    s[d] = _rotr(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & MASK
    s[b] = _rotr(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b] + y) & MASK
    s[d] = _rotr(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & MASK
    s[b] = _rotr(s[b] ^ s[c], 7)


def _compress(cv: list[int], block: list[int], counter: int, block_len: int, flags: int) -> list[int]:
    s = list(cv) + list(IV[:4]) + [counter & MASK, (counter >> 32) & MASK, block_len, flags]
    m = list(block)
    for r in range(7):
        _g(s, 0, 4, 8, 12, m[0], m[1]); _g(s, 1, 5, 9, 13, m[2], m[3])  # noqa: E702
        _g(s, 2, 6, 10, 14, m[4], m[5]); _g(s, 3, 7, 11, 15, m[6], m[7])  # noqa: E702
        _g(s, 0, 5, 10, 15, m[8], m[9]); _g(s, 1, 6, 11, 12, m[10], m[11])  # noqa: E702
        _g(s, 2, 7, 8, 13, m[12], m[13]); _g(s, 3, 4, 9, 14, m[14], m[15])  # noqa: E702
        if r < 6:
            m = [m[i] for i in PERMUTATION]
    return [s[i] ^ s[i + 8] for i in range(8)] + [s[i + 8] ^ cv[i] for i in range(8)]


def _words(block: bytes) -> list[int]:
    block = block.ljust(64, b"\0")
    return [int.from_bytes(block[i : i + 4], "little") for i in range(0, 64, 4)]


def _chunk_output(chunk: bytes, counter: int) -> tuple[list[int], list[int], int, int, int]:
    """(cv, last block words, counter, last block length, flags): the chunk's last compression, not yet done."""
    cv = list(IV)
    blocks = [chunk[i : i + 64] for i in range(0, len(chunk), 64)] or [b""]
    for i, block in enumerate(blocks):
        flags = (CHUNK_START if i == 0 else 0) | (CHUNK_END if i == len(blocks) - 1 else 0)
        if i == len(blocks) - 1:
            return cv, _words(block), counter, len(block), flags
        cv = _compress(cv, _words(block), counter, 64, flags)[:8]
    raise AssertionError("unreachable")


def blake3_hex(data: bytes) -> str:
    chunks = [data[i : i + 1024] for i in range(0, len(data), 1024)] or [b""]
    outputs = [_chunk_output(c, n) for n, c in enumerate(chunks)]
    # the tree: a left subtree holds the largest power of two of chunks smaller than the whole
    def node(lo: int, hi: int) -> tuple[list[int], list[int], int, int, int]:
        if hi - lo == 1:
            return outputs[lo]
        split = 1 << ((hi - lo - 1).bit_length() - 1)
        left, right = node(lo, lo + split), node(lo + split, hi)
        lcv = _compress(*left)[:8]
        rcv = _compress(*right)[:8]
        return list(IV), lcv + rcv, 0, 64, PARENT

    cv, block, counter, block_len, flags = node(0, len(outputs))
    out = _compress(cv, block, counter, block_len, flags | ROOT)
    return b"".join(w.to_bytes(4, "little") for w in out[:8]).hex()
