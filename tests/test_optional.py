"""Optional packages: a missing one fails with the line that installs it, never a bare ModuleNotFoundError.

The failure is simulated the way it happens on a machine without the package: a subprocess whose import
system cannot find it (a meta path finder that raises ModuleNotFoundError for it).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import lamin_core as ln

ROOT = Path(__file__).resolve().parents[1]

BLOCK = """
import sys

class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
"""


def run_without(blocked: set[str], code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    program = BLOCK.format(blocked=blocked) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=120)


def test_anndata_missing_names_the_extra():
    result = run_without({"anndata"}, """
        import lamin_core as ln
        try:
            ln.examples.datasets.mini_immuno.get_dataset1(otype="AnnData")
        except ImportError as e:  # still an ImportError for code that falls back on one
            print(type(e).__name__, "|", e)
    """)
    assert result.returncode == 0, result.stderr
    name, message = result.stdout.strip().split(" | ")
    assert name == "MissingDependencyError"
    assert message == "anndata is not installed for otype='AnnData': pip install 'lamin-core[anndata]'"


def test_loading_an_h5ad_artifact_without_anndata(instance, tmp_path):
    adata = ln.examples.datasets.mini_immuno.get_dataset1(otype="AnnData")
    ln.Artifact.from_anndata(adata, key="my_datasets/mini.h5ad").save()
    result = run_without({"anndata"}, """
        import lamin_core as ln
        ln.Artifact.get(key="my_datasets/mini.h5ad").load()
    """, env=instance.env)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.endswith("anndata is not installed for loading .h5ad artifacts: pip install 'lamin-core[anndata]'")
    assert "ModuleNotFoundError" not in result.stderr


def test_s3_without_s3fs_names_the_extra():
    result = run_without({"s3fs"}, """
        from lamin_core.storage.paths import filesystem
        filesystem("s3://bucket/key")
    """)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].endswith("s3fs is not installed for s3:// paths: pip install 'lamin-core[s3]'")


def test_import_stays_light_without_the_data_packages():
    result = run_without({"pandas", "pyarrow", "anndata"}, """
        import lamin_core as ln
        import sys
        assert not {"pandas", "pyarrow", "anndata"} & set(sys.modules)
        print(ln.__version__)
    """)
    assert result.returncode == 0, result.stderr


def test_every_install_line_names_an_extra_that_exists():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    deps = " ".join(project["dependencies"])
    assert "pandas" in deps and "pyarrow" in deps  # `pip install lamin-core` alone runs the tutorial
    assert any(d.startswith("anndata") for d in extras["anndata"]) and any(d.startswith("anndata") for d in extras["data"])
    from lamin_core._optional import FILESYSTEM_PACKAGES

    named = {extra for _, extra in FILESYSTEM_PACKAGES.values() if extra}
    for path in (ROOT / "lamin_core").rglob("*.py"):
        named |= set(re.findall(r"""extra=["']([\w-]+)["']""", path.read_text()))
    assert named and named <= set(extras), f"install lines name extras that pyproject.toml lacks: {named - set(extras)}"
