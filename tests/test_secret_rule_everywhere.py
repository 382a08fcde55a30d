"""One rule for secret-looking names, in the core: every adapter hides exactly what the core hides.

The same names go through each adapter's params and command-line redaction; a name the core judges secret
must come out as `***` everywhere, and a name it judges harmless (an artifact `key`) must stay visible.
"""

from __future__ import annotations

import pytest

from lamin_core.tracking.redact import REDACTED, is_secret_name, redact, redact_argv

SECRET_NAMES = [
    "password", "api_key", "GITHUB_TOKEN", "oauth", "dbpassword", "accesstoken", "master_key", "hmac_key",
    "account_key", "AWS_SECRET_ACCESS_KEY", "client_secret", "dbPassword",
]  # fmt: skip
VISIBLE_NAMES = ["key", "monkey", "author", "tokenizer", "sample", "keys"]


def _adapters() -> dict[str, object]:
    from lamin_nextflow import _util as nextflow
    from lamin_prefect import _values as prefect
    from snakemake_logger_plugin_lamin import redact as snakemake

    return {
        "core": lambda params: redact(params),
        "prefect": prefect.params_for_record,
        "nextflow": nextflow.redact,
        "snakemake": snakemake.redact_value,
    }


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_every_adapter_hides_what_the_core_hides(name: str) -> None:
    assert is_secret_name(name)
    for adapter, params_of in _adapters().items():
        out = params_of({name: "s3cr3t-value", "nested": {name: "s3cr3t-value"}})
        assert out[name] == REDACTED, f"{adapter} keeps {name!r} visible"
        assert out["nested"][name] == REDACTED, f"{adapter} keeps nested {name!r} visible"
        assert "s3cr3t-value" not in repr(out), f"{adapter} leaks the value of {name!r}"


@pytest.mark.parametrize("name", VISIBLE_NAMES)
def test_every_adapter_keeps_harmless_names_visible(name: str) -> None:
    assert not is_secret_name(name)
    for adapter, params_of in _adapters().items():
        assert params_of({name: "data/x.parquet"})[name] == "data/x.parquet", f"{adapter} hides {name!r}"


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_command_lines_hide_the_same_options_in_every_adapter(name: str) -> None:
    from lamin_nextflow._util import redact_command as nextflow_command
    from snakemake_logger_plugin_lamin.redact import redact_command as snakemake_command

    argv = ["run", f"--{name}", "s3cr3t-value", f"--{name}=s3cr3t-value", "--key", "data/x.parquet"]
    for adapter, text in {
        "core": " ".join(redact_argv(argv)),
        "nextflow": nextflow_command(" ".join(argv)),
        "snakemake": snakemake_command(" ".join(argv)),
    }.items():
        assert "s3cr3t-value" not in text, f"{adapter} leaks --{name}"
        assert "data/x.parquet" in text, f"{adapter} hides --key"
