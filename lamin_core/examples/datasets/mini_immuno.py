"""The tutorial's two small immunology tables (see shared/spec/mini_immuno.md for the exact values)."""

from __future__ import annotations

from typing import Any, Literal

GENES = {"CD8A": "ENSG00000153563", "CD4": "ENSG00000010610", "CD14": "ENSG00000170458", "CD38": "ENSG00000004468"}


def _as(df: Any, otype: str, n_genes: int = 3) -> Any:
    if otype == "DataFrame":
        return df
    if otype == "AnnData":
        from ..._optional import require

        ad = require("anndata", extra="anndata", needed_for="otype='AnnData'")

        obs = df.iloc[:, n_genes:]
        # h5ad cannot store list-valued columns (donor_ethnicity); the tutorial drops them too
        obs = obs[[c for c in obs.columns if not any(isinstance(v, list) for v in obs[c])]]
        return ad.AnnData(X=df.iloc[:, :n_genes].to_numpy(), obs=obs, var=_var(df.columns[:n_genes]))
    raise ValueError(f"otype must be 'DataFrame' or 'AnnData', not {otype!r}")


def _var(columns: Any) -> Any:
    import pandas as pd

    return pd.DataFrame(index=pd.Index(list(columns), name=None))


def get_dataset1(
    otype: Literal["DataFrame", "AnnData"] = "DataFrame",
    with_typo: bool = False,
    with_cell_type_synonym: bool = False,
    with_cell_type_typo: bool = False,
    with_gene_typo: bool = False,
    with_outdated_gene: bool = False,
) -> Any:
    import pandas as pd

    genes = [GENES["CD8A"], GENES["CD4"], GENES["CD14"]]
    if with_gene_typo:
        genes[0] = "ENSG0000015356"
    if with_outdated_gene:
        genes[0] = "ENSG00000278198"
    expert = ["B cell", "CD8-positive, alpha-beta T cell", "CD8-positive, alpha-beta T cell"]
    if with_cell_type_synonym:
        expert[0] = "B-cell"
    if with_cell_type_typo:
        expert[0] = "B cells"
    df = pd.DataFrame(
        {
            genes[0]: [1, 2, 3],
            genes[1]: [3, 4, 5],
            genes[2]: [5, 6, 7],
            "perturbation": pd.Categorical(["DMSO", "IFNJ" if with_typo else "IFNG", "DMSO"]),
            "sample_note": ["was ok", "looks naah", "pretty! 🤩"],
            "cell_type_by_expert": pd.Categorical(expert),
            "cell_type_by_model": pd.Categorical(["B cell", "T cell", "T cell"]),
            "assay_oid": pd.Categorical(["EFO:0008913"] * 3),
            "concentration": ["0.1%", "200 nM", "0.1%"],
            "treatment_time_h": [24, 24, 6],
            "donor": ["D0001", "D0002", None],
            "donor_ethnicity": [["Chinese", "Singaporean Chinese"], ["Chinese", "Han Chinese"], ["Chinese"]],
        },
        index=["sample1", "sample2", "sample3"],
    )
    return _as(df, otype)


def get_dataset2(otype: Literal["DataFrame", "AnnData"] = "DataFrame", gene_symbols_in_index: bool = False) -> Any:
    import pandas as pd

    genes = ["CD8A", "CD4", "CD38"] if gene_symbols_in_index else [GENES["CD8A"], GENES["CD4"], GENES["CD38"]]
    df = pd.DataFrame(
        {
            genes[0]: [2, 3, 3],
            genes[1]: [3, 4, 5],
            genes[2]: [4, 2, 3],
            "perturbation": pd.Categorical(["DMSO", "IFNG", "IFNG"]),
            "cell_type_by_model": pd.Categorical(["B cell", "T cell", "T cell"]),
            "concentration": ["0.1%", "200 nM", "0.1%"],
            "treatment_time_h": [24, 24, 6],
            "donor": ["D0003", "D0003", "D0004"],
        },
        index=["sample4", "sample5", "sample6"],
    )
    return _as(df, otype)
