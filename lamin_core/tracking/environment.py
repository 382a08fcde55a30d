"""What a run ran with: Python, the host, the user, installed packages, and a few environment variables.

The installed packages are read with `importlib.metadata`, which opens every distribution's METADATA
file (about 100 ms for 200 packages). They change rarely, so the listing is cached on disk under
`$LAMIN_HOME/cache/environments/`, keyed by a fingerprint of the `*.dist-info` / `*.egg-info` entries on
`sys.path` (their names carry name and version; a listdir per folder is well under a millisecond).
The text is saved once per distinct environment as an artifact (`kind="environment"`): runs with the same
packages share it, because text artifacts are deduplicated by their content hash.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from .redact import redact

# environment variables worth keeping with a run: where it ran and with which resources; never the rest
CAPTURED_ENV_PREFIXES = ("SLURM_", "PBS_", "LSB_", "SGE_", "CONDA_DEFAULT_ENV", "VIRTUAL_ENV", "CUDA_VISIBLE_DEVICES",
                         "OMP_NUM_THREADS", "LAMIN_", "GITHUB_SHA", "GITHUB_REF", "CI")
_DIST_SUFFIXES = (".dist-info", ".egg-info")
_memo: dict[str, str] = {}  # fingerprint -> environment text, for many runs in one process


def python_version() -> str:
    return sys.version.split()[0]  # what platform.python_version() parses out of it, without importing platform


def platform_string() -> str:
    """`platform.platform()` on Linux (`Linux-6.1.0-x86_64-with-glibc2.36`) from `os.uname()` and the C
    library's own answer: importing `platform` and scanning the Python binary for the glibc version took
    tens of milliseconds of every tracked script."""
    u = os.uname()
    libc = os.confstr("CS_GNU_LIBC_VERSION") if u.sysname == "Linux" and "CS_GNU_LIBC_VERSION" in os.confstr_names else None
    if not libc or " " not in libc:
        import platform

        return platform.platform(terse=True)
    name, version = libc.split(" ", 1)
    text = "-".join(p for p in (u.sysname, u.release, u.machine, "with", name + version) if p)
    text = text.replace(" ", "_").replace("/", "-")
    while "--" in text:
        text = text.replace("--", "-")
    return text


def host() -> str:
    from ..storage.managed import _hostname

    return _hostname()


def captured_env() -> dict[str, str]:
    """The few environment variables a run keeps, secrets redacted (names like *_TOKEN, *_PASSWORD)."""
    picked = {k: v for k, v in os.environ.items() if k.startswith(CAPTURED_ENV_PREFIXES)}
    return redact(picked) if picked else {}


def run_facets(argv: list[str] | None = None) -> dict[str, Any]:
    """What a tracked run records besides its columns: Python, platform, command line, environment."""
    from .redact import redact_argv

    facets: dict[str, Any] = {
        "python": python_version(),
        "platform": platform_string(),
        "executable": sys.executable,
        "pid": os.getpid(),
        "cwd": os.getcwd(),
    }
    if argv is not None:
        facets["argv"] = redact_argv(argv)
    env = captured_env()
    if env:
        facets["env"] = env
    return facets


def _fingerprint() -> str:
    import blake3  # imported for content hashes anyway; hashlib would cost an OpenSSL load

    h = blake3.blake3(sys.version.encode())
    for entry in sys.path:
        try:
            names = sorted(n for n in os.listdir(entry or ".") if n.endswith(_DIST_SUFFIXES))
        except OSError:  # a zip, a missing folder
            continue
        h.update(b"\0" + os.path.abspath(entry or ".").encode() + b"\0" + "\n".join(names).encode())
    return h.hexdigest()[:32]


def _read_packages() -> str:
    from importlib.metadata import distributions

    seen: dict[str, str] = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if name and name.lower() not in seen:  # the first on sys.path is the one imported
            seen[name.lower()] = f"{name}=={dist.version}"
    return "\n".join(sorted(seen.values(), key=str.lower))


def environment_text() -> str:
    """`python==X` then `name==version` per installed distribution, sorted: stable for the same environment."""
    from ..setup.settings import cache_dir

    key = _fingerprint()
    text = _memo.get(key)
    if text is not None:
        return text
    path = cache_dir() / "environments" / f"{key}.txt"
    try:
        text = path.read_text()
    except OSError:
        text = f"python=={python_version()}\n{_read_packages()}\n"
        _write_quietly(path, text)
    _memo[key] = text
    return text


def _write_quietly(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)  # concurrent first runs never read half a file
    except OSError:
        pass  # a read-only home: the listing is recomputed next time, nothing else changes
