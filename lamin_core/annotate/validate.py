"""Validating a DataFrame against a Schema: which columns must be there, their dtypes, nulls, labels.

Everything is checked before anything is written, and every problem (of every column) goes into one
`ValidationError`, each naming its column and the fix. What validated is returned as a `Validation`:
the features of the validated columns (the artifact's feature set), the label records found in
categorical columns, and the DataFrame itself, coerced where the schema or a feature asks for it.

Which columns are validated, as LaminDB does it:
- the schema's features: all must be present when `minimal_set` (the default);
- `maximal_set=True`: no other column may be present;
- `flexible` (the default of a schema that lists no features, `ln.Schema(itype=ln.Feature)`): any other
  column whose name is a registered feature is validated too; the rest are neither validated nor annotated.
A schema whose itype is a registry field (`bt.Gene.ensembl_gene_id`) validates the column names as values
of that field and every column against its `dtype`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from . import column_dtypes as cd
from .categoricals import CatColumn, cat_column, check_in_registries, problem_text, suggestions_for
from .dtypes import DType, parse

if TYPE_CHECKING:
    import pandas as pd

    from ..models import Feature, Schema


@dataclass
class Validation:
    """What a successful (or, from a curator, a failed) validation found."""

    schema: "Schema"
    df: "pd.DataFrame"  # the input, or a coerced copy of it
    features: list["Feature"] = field(default_factory=list)  # of the validated columns, in column order
    cat_columns: list[CatColumn] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    new_labels: list[tuple[Any, str]] = field(default_factory=list)  # (label, field) validated from a public source, saved with the artifact

    @property
    def non_validated(self) -> dict[str, list[Any]]:
        return {c.column: list(c.non_validated) for c in self.cat_columns if c.non_validated}

    def error(self) -> ValidationError:
        label = schema_label(self.schema)
        if len(self.problems) == 1:
            return ValidationError(self.problems[0])
        body = "\n".join(f"- {p}" for p in self.problems)
        return ValidationError(f"{len(self.problems)} problems validating the DataFrame against schema {label}:\n{body}")


def schema_label(schema: "Schema") -> str:
    return repr(schema.name) if schema.name else f"{schema.uid}" if schema.uid else "(unsaved)"


def validate_dataframe(df: "pd.DataFrame", schema: "Schema", raise_error: bool = True) -> Validation:
    """Validate `df` against `schema`; raises one ValidationError listing every problem unless told not to."""
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise ValidationError(f"expected a pandas DataFrame, not {type(df).__name__}")
    _check_schema_fits_dataframe(schema)
    result = Validation(schema=schema, df=df)
    if schema.itype not in (None, "Feature"):
        _validate_columns_as_values(df, schema, result)
    else:
        _validate_feature_columns(df, schema, result)
    if result.problems and raise_error:
        raise result.error()
    return result


def _check_schema_fits_dataframe(schema: "Schema") -> None:
    from .schemas import slots_of

    if schema.is_type:
        raise ValidationError(f"schema {schema_label(schema)} is a schema type (is_type=True): validate against one of its schemas")
    if schema.otype not in (None, "DataFrame"):
        raise ValidationError(f"schema {schema_label(schema)} describes an {schema.otype}, not a DataFrame")
    slots = slots_of(schema)
    if slots:
        raise ValidationError(
            f"schema {schema_label(schema)} is composite (slots {', '.join(slots)}): it validates an AnnData, not a DataFrame;"
            f" validate the DataFrame against one slot, e.g. schema.slots[{next(iter(slots))!r}]"
        )


# ---- a schema of features ----


def _validate_feature_columns(df: "pd.DataFrame", schema: "Schema", result: Validation) -> None:
    from .schemas import ordered_features

    listed = ordered_features(schema)
    names = [str(c) for c in df.columns]
    original = {str(c): c for c in df.columns}  # column labels need not be strings
    present = set(names)
    label = schema_label(schema)
    doubled = sorted({n for n in names if names.count(n) > 1}) if len(present) < len(names) else []
    if doubled:
        result.problems.append(f"columns named more than once: {', '.join(map(repr, doubled))} → rename or drop them")
        return
    missing = [f.name for f in listed if f.name not in present] if schema.minimal_set else []
    if missing:
        result.problems.append(
            f"{_columns(missing)} missing, required by schema {label}: {', '.join(map(repr, missing))}"
            " → add them to the DataFrame, or use a schema with minimal_set=False"
        )
    listed_names = {f.name for f in listed}
    extra = [c for c in names if c not in listed_names]
    if schema.maximal_set and extra:
        result.problems.append(
            f"{_columns(extra)} not in schema {label}, which allows no others (maximal_set=True): {', '.join(map(repr, extra))}"
            " → remove them from the DataFrame, or add their features to the schema"
        )
    if schema.ordered_set:
        order = [c for c in names if c in listed_names]
        expected = [f.name for f in listed if f.name in present]
        if order != expected:
            result.problems.append(f"columns out of order for schema {label} (ordered_set=True): expected {expected}, got {order}")
    by_name = {f.name: f for f in listed}
    if schema.flexible and extra:
        by_name.update(_registered_features(extra))
    to_check = [(c, by_name[c]) for c in names if c in by_name]
    result.features = [f for _, f in to_check]
    coerced: dict[str, Any] = {}
    for column, feature in to_check:
        _check_column(df[original[column]], column, feature, schema, result, coerced)
    if result.cat_columns:
        check_in_registries(result.cat_columns)
        unsaved = {id(r): (r, c.field) for c in result.cat_columns for r in c.records if r.id is None}
        result.new_labels = list(unsaved.values())
        failed = [c for c in result.cat_columns if c.non_validated]
        if failed:
            hints = suggestions_for(failed)
            result.problems.extend(problem_text(c, hints.get(id(c), {})) for c in failed)
    if coerced:
        result.df = df.copy()
        for column, series in coerced.items():
            result.df[original[column]] = series


def _columns(names: list[str]) -> str:
    return "1 column" if len(names) == 1 else f"{len(names)} columns"


def _registered_features(names: list[str]) -> dict[str, "Feature"]:
    from ..models import Feature

    return {f.name: f for f in Feature.filter(name__in=names, is_type=False)}


def _check_column(
    series: "pd.Series", column: str, feature: "Feature", schema: "Schema", result: Validation, coerced: dict[str, Any]
) -> None:
    """Dtype (coercing where asked), nulls, and for categorical features the distinct values to look up."""
    if not feature.dtype:
        result.problems.append(f"feature {feature.name!r} is a feature type (is_type=True), not a column's feature")
        return
    dtype = parse(feature.dtype)
    may_coerce = bool(schema.coerce or feature.coerce)
    if not feature.nullable:
        n_null = int(series.isna().sum())
        if n_null:
            result.problems.append(
                f"column {column!r}: {n_null} row{'s' if n_null != 1 else ''} without a value (None/NaN), but feature"
                f" {feature.name!r} is not nullable → fill them, or make the feature nullable"
            )
    if dtype.is_cat:
        _check_categorical(series, column, feature, dtype, may_coerce, result, coerced)
        return
    if cd.fits_dtype(series, dtype):
        return
    if may_coerce:
        try:
            coerced[column] = cd.coerce(series, dtype)
            return
        except (ValueError, TypeError) as e:
            result.problems.append(
                f"column {column!r} has dtype {cd.describe_dtype(series)} and could not be coerced to dtype"
                f" {str(dtype)!r} of feature {feature.name!r}: {e}"
            )
            return
    result.problems.append(
        f"column {column!r} has dtype {cd.describe_dtype(series)}, but feature {feature.name!r} has dtype {str(dtype)!r}"
        f" → convert the column, or let it be coerced: ln.Feature(name={feature.name!r}, ...) with coerce=True,"
        " or a schema with coerce=True"
    )


def _check_categorical(
    series: "pd.Series", column: str, feature: "Feature", dtype: DType, may_coerce: bool, result: Validation,
    coerced: dict[str, Any],
) -> None:
    if dtype.is_list and not cd.is_list_column(series):
        result.problems.append(
            f"column {column!r} has dtype {cd.describe_dtype(series)}, but feature {feature.name!r} has dtype"
            f" {str(dtype)!r}: each value should be a list of names"
        )
        return
    col = cat_column(column, series, feature, dtype)
    not_text = [v for v in col.values if not isinstance(v, str)]
    if not_text and may_coerce and not dtype.is_list:
        series = cd.coerce(series, DType("cat"))
        col = cat_column(column, series, feature, dtype)
        not_text = []
    if not_text:
        result.problems.append(
            f"column {column!r} has dtype {cd.describe_dtype(series)}, but feature {feature.name!r} has dtype"
            f" {str(dtype)!r}, whose values are names (strings), e.g. not {not_text[0]!r}"
            " → convert the column, or let it be coerced (coerce=True)"
        )
        return
    if may_coerce and not dtype.is_list:
        coerced[column] = cd.as_category(series)  # object -> category, as LaminDB's coerce does
    result.cat_columns.append(col)


# ---- a schema whose members are values of a registry field (a var schema: itype=bt.Gene.ensembl_gene_id) ----


def _validate_columns_as_values(df: "pd.DataFrame", schema: "Schema", result: Validation) -> None:
    from types import SimpleNamespace

    from .dtypes import label_field, resolve_registry

    dtype = parse(f"cat[{schema.itype}]")  # "bionty.Gene.ensembl_gene_id" -> registry bionty.Gene, field ensembl_gene_id
    names = [str(c) for c in df.columns]
    # the column names are the values; no feature record stands for them
    col = CatColumn("columns", SimpleNamespace(name="columns"), dtype, resolve_registry(dtype.registry or "ULabel"),  # type: ignore[arg-type]
                    label_field(dtype), values=list(dict.fromkeys(names)))
    check_in_registries([col])
    if col.non_validated:
        hints = suggestions_for([col])
        text = problem_text(col, hints.get(id(col), {}))
        result.problems.append(text.replace("in feature 'columns'", f"as column names ({schema.itype})", 1))
    if schema.dtype:
        wanted = parse(schema.dtype)
        wrong = [c for c in names if not cd.fits_dtype(df[c], wanted)]
        if wrong:
            result.problems.append(
                f"{_columns(wrong)} of dtype other than {schema.dtype!r}, which schema {schema_label(schema)} requires:"
                f" {', '.join(repr(c) for c in wrong[:20])}"
            )
