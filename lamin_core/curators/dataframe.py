"""`ln.curators.DataFrameCurator(df, schema)`: LaminDB's step-by-step validation of a DataFrame.

The checks are those of `Artifact.from_dataframe(df, schema=...)` (`lamin_core.annotate.validate`); the
curator keeps what failed (`cat.non_validated`) so it can be fixed in place: `standardize()` replaces
values that name a label up to case or by a synonym with the label's name, `cat.add_new_from(column)`
saves a column's new values as labels. `save_artifact()` validates once more (the DataFrame may have
changed since) and saves the artifact with its annotations in one transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd

    from ..annotate.categoricals import CatColumn
    from ..annotate.validate import Validation
    from ..models import Artifact, Schema


class DataFrameCurator:
    """Validate `df` against a saved `schema`; fix, then `save_artifact(key=...)`."""

    def __init__(self, df: "pd.DataFrame", schema: "Schema") -> None:
        import pandas as pd

        from ..models import Schema

        if not isinstance(df, pd.DataFrame):
            raise ValidationError(f"DataFrameCurator takes a pandas DataFrame, not {type(df).__name__}")
        if not isinstance(schema, Schema):
            raise ValidationError(f"DataFrameCurator takes an ln.Schema, not {schema!r}")
        if schema.id is None:
            raise ValidationError("save the schema before curating against it: schema = ln.Schema(...).save()")
        self.df = df
        self.schema = schema
        self._validation: "Validation | None" = None
        self.cat = CatManager(self)

    @property
    def dataset(self) -> "pd.DataFrame":
        return self.df

    @property
    def is_validated(self) -> bool:
        return self._validation is not None and not self._validation.problems

    def validate(self) -> None:
        """Check everything; raises one ValidationError listing every problem (and keeps them in `cat`)."""
        result = self._run()
        if result.problems:
            raise result.error()

    def _run(self) -> "Validation":
        from ..annotate.validate import validate_dataframe

        self._validation = validate_dataframe(self.df, self.schema, raise_error=False)
        if not self._validation.problems:
            self.df = self._validation.df  # coerced where asked
        return self._validation

    def standardize(self, key: str = "all") -> None:
        """Replace values that match a label but for case, or are one of its synonyms, by the label's name.

        Modifies `curator.df` in place (as LaminDB does); `key` is a column, or "all" categorical columns.
        """
        from ..annotate.categoricals import canonical_values

        columns = self._cat_columns(key)
        changed = False
        for col in columns:
            if not col.non_validated:
                continue
            mapping = canonical_values(col.model, col.field, list(col.non_validated))
            if mapping:
                self.df[col.column] = _replace(self.df[col.column], mapping, col.dtype.is_list)
                changed = True
        if changed:
            self._run()

    def save_artifact(
        self, key: str | None = None, description: str | None = None, revises: "Artifact | None" = None, **kwargs: Any
    ) -> "Artifact":
        """Validate, then save the annotated artifact (raises, saving nothing, while anything is invalid)."""
        from ..models import Artifact

        self.validate()
        artifact = Artifact.from_dataframe(
            self.df, key=key, description=description, revises=revises, schema=self.schema, _validation=self._validation,
            **kwargs,
        )
        return artifact.save()

    def _cat_columns(self, key: str = "all") -> list["CatColumn"]:
        if self._validation is None:
            self._run()
        assert self._validation is not None
        columns = self._validation.cat_columns
        if key == "all":
            return list(columns)
        chosen = [c for c in columns if c.column == key]
        if not chosen:
            names = ", ".join(repr(c.column) for c in columns) or "none"
            raise ValidationError(f"{key!r} is not a categorical column validated by this schema; those are: {names}")
        return chosen


class CatManager:
    """`curator.cat`: the categorical columns, what in them did not validate, and adding it as labels."""

    def __init__(self, curator: DataFrameCurator) -> None:
        self._curator = curator

    @property
    def non_validated(self) -> dict[str, list[Any]]:
        """{column: [values not found in its registry]}, after `validate()` (run now if it was not)."""
        if self._curator._validation is None:
            self._curator._run()
        assert self._curator._validation is not None
        return self._curator._validation.non_validated

    def validate(self) -> None:
        self._curator.validate()

    def standardize(self, key: str) -> None:
        self._curator.standardize(key)

    def add_new_from(self, key: str, **fields: Any) -> None:
        """Save the non-validated values of column `key` (or of "all" columns) as new labels of its registry."""
        from ..annotate.categoricals import registry_code
        from ..api import save as save_records

        columns = [c for c in self._curator._cat_columns(key) if c.non_validated]
        for col in columns:
            lookup = getattr(col.model, "from_values", None)
            if lookup is None:
                raise ValidationError(f"{registry_code(col.model)} cannot make records from values")
            records = lookup(list(col.non_validated), field=col.field, create=True, mute=True)
            for record in records:
                for name, value in fields.items():
                    setattr(record, name, value)
            save_records(list(records))
        if columns:
            self._curator._run()


def _replace(series: "pd.Series", mapping: dict[str, str], is_list: bool) -> "pd.Series":
    """The column with values renamed; a categorical stays categorical (merging categories that coincide)."""
    import pandas as pd

    if is_list:
        return series.map(lambda v: [mapping.get(x, x) for x in v] if isinstance(v, (list, tuple)) else v)
    if isinstance(series.dtype, pd.CategoricalDtype):
        renamed = [mapping.get(c, c) for c in series.cat.categories]
        if len(set(renamed)) == len(renamed):
            return series.cat.rename_categories(renamed)
        return series.astype(object).map(lambda v: mapping.get(v, v)).astype("category")
    return series.map(lambda v: mapping.get(v, v) if isinstance(v, str) else v)
