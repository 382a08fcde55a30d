"""`ln.view()` where there is no terminal (CI, a pipe): 80 columns, uids and keys whole on one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import lamin_core as ln
from lamin_core.query.compact_table import Column, fit, shorten

LONG_DESCRIPTION = "A long description that says a great deal about this dataset, its origin, and its many uses"
KEYS = ["my_datasets/rnaseq1.parquet", "results/experiment_42/a_rather_long_name_x.csv"]


def populate(tmp_path: Path) -> dict[str, list[str]]:
    """The tutorial's kinds of records, with long keys and descriptions; returns what must be shown whole."""
    for i, key in enumerate(KEYS):
        path = tmp_path / f"f{i}.txt"
        path.write_text(str(i) * 1000 * (i + 1))
        ln.Artifact(path, key=key, description=LONG_DESCRIPTION).save()
    ln.ULabel(name="My experiment", description=LONG_DESCRIPTION).save()
    sample = ln.Record(name="Sample", is_type=True).save()
    ln.Record(name="sample_1", type=sample).save()
    ln.Feature(name="temperature", dtype=float).save()
    ln.Transform(key="my_pipeline", version="1.2.0", description=LONG_DESCRIPTION).save()
    whole = {
        "uid": [a.uid for a in ln.Artifact.filter()] + [r.uid for r in ln.Record.filter()] + [ln.ULabel.get(name="My experiment").uid],
        "key": KEYS + ["my_pipeline"],
        "name": ["My experiment", "Sample", "sample_1", "temperature"],
    }
    return whole


def check_fits(output: str, whole: dict[str, list[str]], width: int = 80) -> None:
    lines = output.splitlines()
    too_wide = [line for line in lines if len(line) > width]
    assert not too_wide, f"{len(too_wide)} lines wider than {width}:\n" + "\n".join(too_wide)
    for kind, values in whole.items():
        for value in values:
            assert any(value in line for line in lines), f"{kind} {value!r} is not shown whole on one line:\n{output}"


def test_view_fits_80_columns_with_uids_and_keys_whole(instance, tmp_path, capsys, monkeypatch):
    whole = populate(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    capsys.readouterr()
    ln.view()
    out = capsys.readouterr().out
    check_fits(out, whole)
    for registry in ("Artifact", "Transform", "ULabel", "Record", "Feature"):
        assert any(line.startswith(f"{registry} (") for line in out.splitlines()), f"{registry} missing from view():\n{out}"
    assert "not shown:" in out  # what did not fit is named, not silently folded away


def test_view_in_a_pipe_without_columns_set(instance, tmp_path):
    """A subprocess with stdout piped: no terminal and no COLUMNS, as in CI."""
    whole = populate(tmp_path)
    env = {k: v for k, v in instance.env.items() if k not in ("COLUMNS", "LINES")}
    result = subprocess.run(
        [sys.executable, "-c", "import lamin_core as ln; ln.view(registries=['Artifact', 'Record', 'ULabel'])"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    check_fits(result.stdout, {"uid": whole["uid"], "key": KEYS, "name": ["My experiment", "sample_1"]})


def test_view_wider_console_shows_more_columns(instance, tmp_path, capsys, monkeypatch):
    populate(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    capsys.readouterr()
    ln.view(registries=["Artifact"])
    out = capsys.readouterr().out
    assert LONG_DESCRIPTION in out and "size" in out and "not shown" not in out


def test_fit_shortens_free_text_and_keeps_identities_whole():
    uid = Column("uid", ["APjLZBV7Oz6FVtOg0000"], whole=True)
    key = Column("key", ["results/experiment_42/a_rather_long_name_x.csv"], whole=True)
    description = Column("description", [LONG_DESCRIPTION], shrinkable=True)
    size = Column("size", ["123456789"])
    kept, dropped = fit([uid, key, description, size], 80)
    widths = {c.name: w for c, w in kept}
    assert widths["uid"] == 20 and widths["key"] == len(key.cells[0])
    assert sum(widths.values()) + 2 * (len(widths) - 1) == 80
    assert widths["description"] == 10 and dropped == ["size"]  # free text takes what is left; the rest is named
    kept, dropped = fit([uid, key, description, size], 79)
    assert dropped == ["description"]  # 9 characters would say nothing: left out, not squeezed

    # a key longer than the console is shortened in its middle (both ends readable), never folded
    long_key = "a/" * 60 + "end.parquet"
    kept, _ = fit([uid, Column("key", [long_key], whole=True)], 80)
    w = dict((c.name, w) for c, w in kept)["key"]
    short = shorten(long_key, w, middle=True)
    assert len(short) == w and short.endswith("end.parquet"[-5:]) and short.startswith("a/a/") and "…" in short
