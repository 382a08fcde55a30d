"""Curators: validate a dataset against a schema step by step, fix what failed, then save it annotated.

    curator = ln.curators.DataFrameCurator(df, schema)
    curator.validate()                      # raises ln.errors.ValidationError naming every problem
    curator.cat.non_validated               # {"perturbation": ["IFNJ"]}
    curator.standardize()                   # synonyms and case -> the registry's canonical names
    curator.cat.add_new_from("perturbation")  # or save the column's new values as labels
    artifact = curator.save_artifact(key="my_datasets/rnaseq1.parquet")

`ln.Artifact.from_dataframe(df, schema=schema)` is the one-step form of the same validation.
"""

from __future__ import annotations

from .dataframe import DataFrameCurator

__all__ = ["DataFrameCurator"]
