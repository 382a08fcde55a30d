"""Long work is visible on a terminal (bytes and rate), silent elsewhere, and Ctrl-C leaves the instance as it was."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lamin_core.testing import run_on_terminal as command_on_terminal

import lamin_core as ln

SAVER = textwrap.dedent("""
    import sys
    import lamin_core as ln
    if sys.argv[2] != "-":
        ln.settings.verbosity = int(sys.argv[2])
    ln.Artifact.filter().count()
    print("go", flush=True)
    ln.Artifact(sys.argv[1], key="big.bin").save()
    print("done", flush=True)
""")
BIG = 96 * 1024 * 1024  # above the bar's threshold (64 MiB)


def big_file(tmp_path: Path, size: int = BIG) -> Path:
    path = tmp_path / "big.bin"
    with open(path, "wb") as f:
        f.write(os.urandom(16))
        f.truncate(size)
    return path


def run_on_terminal(env: dict[str, str], *args: str, interrupt_after: float | None = None) -> tuple[str, int, float]:
    """Run the saver with stdout and stderr on a pseudo-terminal; returns (output, exit code, seconds from SIGINT to exit)."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", SAVER, *args], env=env, stdin=subprocess.DEVNULL, stdout=secondary,
                            stderr=secondary, close_fds=True)
    os.close(secondary)
    chunks: list[bytes] = []
    sent_at: float | None = None
    while True:
        ready, _, _ = select.select([primary], [], [], 0.05)
        if ready:
            try:
                data = os.read(primary, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        if interrupt_after is not None and sent_at is None and b"go" in b"".join(chunks):
            time.sleep(interrupt_after)
            proc.send_signal(signal.SIGINT)
            sent_at = time.perf_counter()
        if proc.poll() is not None and not ready:
            break
    code = proc.wait(timeout=120)
    stopped_in = time.perf_counter() - sent_at if sent_at is not None else 0.0
    os.close(primary)
    return b"".join(chunks).decode(errors="replace"), code, stopped_in


def terminal_env(instance, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in instance.env.items() if k not in ("CI", "LAMIN_PROGRESS")}
    return {**env, "TERM": "xterm-256color", "COLUMNS": "120", **extra}


def test_a_large_save_shows_bytes_and_rate_on_a_terminal(instance, tmp_path):
    output, code, _ = run_on_terminal(terminal_env(instance), str(big_file(tmp_path)), "-")
    assert code == 0, output
    assert "saving big.bin" in output and "/100.7 MB" in output, output  # bytes done of the total
    assert re.search(r"\d[\d.]* [kMG]B/s", output), output  # and the rate


@pytest.mark.parametrize("how", ["LAMIN_PROGRESS=0", "CI=true", "verbosity=0"])
def test_the_bar_can_be_turned_off(instance, tmp_path, how):
    name, value = how.split("=")
    env = terminal_env(instance, **({name: value} if name != "verbosity" else {}))
    output, code, _ = run_on_terminal(env, str(big_file(tmp_path)), value if name == "verbosity" else "-")
    assert code == 0 and "done" in output
    assert "saving big.bin" not in output and not re.search(r"[kMG]B/s", output), output


def test_no_bar_without_a_terminal(instance, tmp_path):
    env = {k: v for k, v in instance.env.items() if k not in ("CI", "LAMIN_PROGRESS")}
    result = subprocess.run([sys.executable, "-c", SAVER, str(big_file(tmp_path)), "-"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.split() == ["go", "done"]
    assert "saving" not in result.stderr and not re.search(r"[kMG]B/s", result.stderr)


def test_ctrl_c_during_a_save_leaves_the_instance_as_it_was(instance, tmp_path, capsys):
    source = big_file(tmp_path, 768 * 1024 * 1024)
    output, code, stopped_in = run_on_terminal(terminal_env(instance), str(source), "-", interrupt_after=0.3)
    lines = [line.strip() for line in output.splitlines()]
    assert code != 0 and "done" not in lines and "KeyboardInterrupt" in output, output
    assert ln.Artifact.filter().count() == 0
    lamindb = instance.storage_root / ".lamindb"
    left = [p.relative_to(lamindb).as_posix() for p in lamindb.rglob("*")
            if not p.name.startswith("lamin.db") and p.name != "_staging"]  # the shared parent folder may stay
    assert left == [], f"left behind after Ctrl-C: {left}"
    assert ln.Artifact(source, key="big.bin").save().size == source.stat().st_size, "the next save works"
    with capsys.disabled():
        print(f"\n[{instance.backend}] Ctrl-C during a 768 MiB save: stopped {stopped_in:.2f} s after SIGINT")


def test_hashing_a_large_folder_counts_files(instance, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(300):
        (folder / f"f{i}.txt").write_text(str(i))
    script = textwrap.dedent(f"""
        import lamin_core as ln
        ln.Artifact({str(folder)!r}, key="many").save()
        print("done", flush=True)
    """)
    output, code = command_on_terminal([sys.executable, "-c", script], terminal_env(instance, LAMIN_PROGRESS="1"), timeout=120)
    assert code == 0, output
    assert "hashing many/" in output and "300/300" in output, output


def test_exporting_every_run_counts_events(instance):
    """`lamin openlineage export --all` of hundreds of events shows a count on a terminal, and sends them all."""
    import threading
    from datetime import datetime, timezone
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from lamin_core.lineage import Job, LineageEvent, RunInfo
    from lamin_core.lineage.recorder import record_many

    received: list[bytes] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    now = datetime.now(timezone.utc)
    events = []
    for i in range(120):
        run = RunInfo(run_id=f"export-{i}", reference_type="test_export")
        job = Job(namespace="progress-test", name=f"job-{i % 3}")
        events += [LineageEvent(event_type="START", event_time=now, job=job, run=run),
                   LineageEvent(event_type="COMPLETE", event_time=now, job=job, run=run)]
    record_many(events)
    lamin = str(Path(sys.executable).with_name("lamin"))
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        output, code = command_on_terminal([lamin, "openlineage", "export", "--all", "--url", url],
                                      terminal_env(instance, LAMIN_PROGRESS="1"))
    finally:
        server.shutdown()
    assert code == 0, output
    assert "exporting OpenLineage events" in output
    assert len(received) == 240
