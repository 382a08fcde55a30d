"""A run's params checked against the pipeline's `nextflow_schema.json` (JSON Schema as nf-core writes it).

nf-core schemas (draft 2020-12 with `$defs`, or draft-07 with `definitions`) group params under
definitions that the top level applies through `allOf: [{"$ref": "#/$defs/<group>"}]`. A param is
checked by the keywords JSON Schema asserts: `type`, `enum`, `const`, `pattern`, `minimum`, `maximum`,
`exclusiveMinimum`, `exclusiveMaximum`, `minLength`, `maxLength`, and `required` (of the top level and
of each applied group). `format` and nf-schema's own keywords (`exists`, `mimetype`, `schema`) are
annotations, as for a JSON Schema validator; a params file (`schema: assets/schema_input.json`) is not opened.

Two checkers give the same problems: with the `nf-core` package, its `PipelineSchema` loads the schema
and `jsonschema` (what `PipelineSchema.validate_params()` calls) lists every error; without it, the plain
walk below. Params whose value is null count as unset (Nextflow's config writes unset params as null),
and nf-schema's ignored params (`help`, `helpFull`, `showHidden`, `trace_report_suffix`) are skipped.
Invalid params never stop an ingest: they are printed and kept in the pipeline run's report.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from ._util import REDACTED, is_secret_name

IGNORED = frozenset({"help", "helpFull", "showHidden", "trace_report_suffix"})  # nf-schema's defaults
_TYPES: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool) or isinstance(v, float) and v.is_integer(),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}
_NUMERIC = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_STRING = ("pattern", "minLength", "maxLength")
RULES = ("type", "enum", "const", *_STRING, *_NUMERIC, "required")  # what the plain checker asserts


@dataclass(frozen=True, order=True)
class ParamProblem:
    """One param that breaks one rule of the schema."""

    param: str
    rule: str  # the JSON Schema keyword: type, enum, pattern, required, minimum, ...
    expected: Any  # the keyword's value (a type name, the allowed values, the pattern, ...)
    value: Any = None  # the param's value (secret-looking names' values are hidden)

    def __str__(self) -> str:
        shown = _show(self.value)
        if self.rule == "required":
            detail = "is required and was not given"
        elif self.rule == "type":
            expected = " or ".join(self.expected) if isinstance(self.expected, tuple) else self.expected
            detail = f"{shown} is not of type {expected}"
        elif self.rule == "enum":
            detail = f"{shown} is not one of {', '.join(str(v) for v in self.expected)}"
        elif self.rule == "pattern":
            detail = f"{shown} does not match {self.expected}"
        elif self.rule in _NUMERIC:
            sign = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[self.rule]
            detail = f"{shown} is not {sign} {self.expected}"
        elif self.rule in ("minLength", "maxLength"):
            detail = f"{shown} is {'shorter' if self.rule == 'minLength' else 'longer'} than {self.expected} characters"
        else:
            detail = f"{shown} breaks `{self.rule}: {json.dumps(self.expected, default=str)}`"
        return f"--{self.param} ({self.rule}): {detail}"


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _prepared(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None and k not in IGNORED}


def _problem(param: str, rule: str, expected: Any, value: Any) -> ParamProblem:
    hidden = REDACTED if is_secret_name(param) and value not in (None, "") else value
    return ParamProblem(param, rule, _frozen(expected), _frozen(hidden))


def _frozen(value: Any) -> Any:
    """Lists as tuples and maps as sorted pairs: problems are compared and de-duplicated as a set."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    return value


@dataclass
class ParamsCheck:
    """One run's params against one schema file: what `lamin nextflow ingest` prints and the run's report keeps."""

    schema: str  # the nextflow_schema.json checked against
    backend: str  # "nf-core" or "plain"
    problems: list[ParamProblem] = field(default_factory=list)

    def report(self, error: str | None = None) -> str:
        """The run's report: its error (a failed run's report says why it failed first), then the params."""
        lines = [f"params not valid against {self.schema}:"] + [f"  {p}" for p in self.problems]
        return (f"{error}\n\n" if error else "") + "\n".join(lines) + "\n"


# ---- the plain checker ----

def _groups(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The top level and every group it applies through `allOf` (`$ref: #/$defs/x` or `#/definitions/x`)."""
    yield schema
    for item in schema.get("allOf") or []:
        ref = item.get("$ref") if isinstance(item, dict) else None
        if isinstance(ref, str) and ref.startswith("#/"):
            node: Any = schema
            for part in ref[2:].split("/"):
                node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, dict) else None
            if isinstance(node, dict):
                yield node
        elif isinstance(item, dict):
            yield item


def _check_value(name: str, prop: dict[str, Any], value: Any) -> Iterator[ParamProblem]:
    declared = prop.get("type")
    if declared is not None:
        names = declared if isinstance(declared, list) else [declared]
        if not any(_TYPES.get(t, lambda v: True)(value) for t in names):
            yield _problem(name, "type", declared, value)
    if "enum" in prop and isinstance(prop["enum"], list) and not any(_equal(value, v) for v in prop["enum"]):
        yield _problem(name, "enum", prop["enum"], value)
    if "const" in prop and not _equal(value, prop["const"]):
        yield _problem(name, "const", prop["const"], value)
    if isinstance(value, str):
        if isinstance(prop.get("pattern"), str) and not re.search(prop["pattern"], value):
            yield _problem(name, "pattern", prop["pattern"], value)
        if isinstance(prop.get("minLength"), int) and len(value) < prop["minLength"]:
            yield _problem(name, "minLength", prop["minLength"], value)
        if isinstance(prop.get("maxLength"), int) and len(value) > prop["maxLength"]:
            yield _problem(name, "maxLength", prop["maxLength"], value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        bounds = {k: prop[k] for k in _NUMERIC if isinstance(prop.get(k), (int, float)) and not isinstance(prop[k], bool)}
        failed = {
            "minimum": lambda b: value < b, "maximum": lambda b: value > b,
            "exclusiveMinimum": lambda b: value <= b, "exclusiveMaximum": lambda b: value >= b,
        }
        for rule, bound in bounds.items():
            if failed[rule](bound):
                yield _problem(name, rule, bound, value)


def _equal(a: Any, b: Any) -> bool:
    """JSON Schema equality: 1 == 1.0, but True is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def check_plain(params: Mapping[str, Any], schema: dict[str, Any]) -> list[ParamProblem]:
    values = _prepared(params)
    problems: set[ParamProblem] = set()
    for group in _groups(schema):
        for name in group.get("required") or []:
            if name not in values and name not in IGNORED:
                problems.add(_problem(str(name), "required", group["required"], None))
        for name, prop in (group.get("properties") or {}).items():
            if name in values and isinstance(prop, dict):
                problems.update(_check_value(name, prop, values[name]))
    return sorted(problems, key=_order)


# ---- nf-core's checker ----

def check_nf_core(params: Mapping[str, Any], path: Path) -> list[ParamProblem]:
    """nf-core's `PipelineSchema` loads the schema (it insists on `$schema`); `jsonschema`, which its
    `validate_params()` calls for the first error, lists them all."""
    import jsonschema
    from nf_core.pipelines.schema import PipelineSchema

    loader = PipelineSchema()
    # the public `schema_filename` setter runs `nextflow config` in the pipeline folder to pick the
    # validation plugin: no Nextflow here, and loading needs only the path
    loader._schema_filename = str(path)
    loader.load_schema()
    loader.input_params = _prepared(params)
    validator = jsonschema.validators.validator_for(loader.schema)(loader.schema)
    problems: set[ParamProblem] = set()
    for error in validator.iter_errors(loader.input_params):
        if error.validator == "required":
            for name in error.validator_value:
                if name not in loader.input_params:
                    problems.add(_problem(str(name), "required", error.validator_value, None))
        elif error.path:
            problems.add(_problem(str(error.path[0]), str(error.validator), error.validator_value, error.instance))
        else:  # a rule about the params as a whole (additionalProperties: false, ...)
            problems.add(_problem("", str(error.validator), error.validator_value, None))
    return sorted(problems, key=_order)


def _order(p: ParamProblem) -> tuple[str, str]:
    return (p.param, p.rule)


def check_params(params: Mapping[str, Any] | None, path: str | Path, backend: str | None = None) -> tuple[list[ParamProblem], str]:
    """(problems, backend used) of `params` against the schema file at `path`; ([], backend) when the file
    is not a readable JSON object (ingest already reports an unreadable schema by not typing params)."""
    from .nfcore import nf_core_available

    chosen = backend or ("nf-core" if nf_core_available() else "plain")
    if not params:
        params = {}
    try:
        if chosen == "nf-core":
            return check_nf_core(params, Path(path)), chosen
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, AssertionError):  # nf-core raises AssertionError for a schema without $schema
        return [], chosen
    return (check_plain(params, doc) if isinstance(doc, dict) else []), chosen
