"""A JSON Schema (draft 2020-12) of the scenario file, for editors and other tools.

It is generated from the pydantic models of :mod:`scenarios.schema`, so it cannot drift from
what ``twin validate`` accepts, with three corrections where pydantic's default would refuse
what the loader accepts:

- durations accept their strings (``"90s"``, ``"2h"``) as well as numbers of seconds, and
  distances and speeds theirs (``"40m"``, ``"1m/s"``) as well as numbers;
- times of day are strings (``"06:00"``);
- distributions accept their short forms (a bare number or duration string, a constant) as
  well as the mappings tagged with ``dist``, and a mapping must carry its ``dist`` tag;
- ``products`` may be left out (one product then visits every station in order).

Unknown fields are refused (``additionalProperties: false``), as the loader refuses them.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from scenarios.calendars import _time_of_day
from scenarios.schema import _PARAMS, Scenario
from twin.distributions import DIST_NAMES, _tagged
from twin.durations import UNITS, parse_duration
from twin.units import LENGTHS, SPEEDS, parse_length, parse_speed

DRAFT = "https://json-schema.org/draft/2020-12/schema"

# The strings parse_duration accepts: a non-negative number and an optional unit.
DURATION_PATTERN = (
    r"^\s*\+?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*(" + "|".join(sorted(UNITS, key=len)) + r")?\s*$"
)

_DURATION_STRING: JsonSchemaValue = {
    "type": "string",
    "pattern": DURATION_PATTERN,
    "description": "a number with a unit: " + ", ".join(UNITS) + " (e.g. '90s', '5min', '2h')",
}


_TIME_OF_DAY: JsonSchemaValue = {
    "type": "string",
    "pattern": r"^\s*\d{1,2}:\d{2}(:\d{2})?\s*$",
    "description": "a time of day, HH:MM or HH:MM:SS (e.g. '06:00'), in quotes",
}


def _with_unit(units: dict[str, float], example: str) -> JsonSchemaValue:
    names = sorted(units, key=len, reverse=True)
    pattern = r"^\s*(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*(" + "|".join(names) + r")?\s*$"
    return {
        "type": "string",
        "pattern": pattern.replace("/", "\\/"),
        "description": f"a number with a unit: {', '.join(units)} (e.g. '{example}')",
    }


class _ScenarioSchema(GenerateJsonSchema):
    """Pydantic's generator, taught the string forms that the loader's validators accept."""

    def function_before_schema(
        self, schema: core_schema.BeforeValidatorFunctionSchema
    ) -> JsonSchemaValue:
        function = schema["function"]["function"]
        if function is parse_duration:
            return self._duration(schema)
        if function is _tagged:
            return self._distribution(schema)
        if function is _time_of_day:
            return dict(_TIME_OF_DAY)
        if function in (parse_length, parse_speed):
            units, example = (LENGTHS, "40m") if function is parse_length else (SPEEDS, "1m/s")
            return {
                "anyOf": [{"type": "number", "exclusiveMinimum": 0}, _with_unit(units, example)]
            }
        return super().function_before_schema(schema)

    def _duration(self, schema: core_schema.BeforeValidatorFunctionSchema) -> JsonSchemaValue:
        """Seconds as a number (keeping its bounds), or a string with a unit."""
        number = self.generate_inner(schema["schema"])
        if "minimum" not in number and "exclusiveMinimum" not in number:
            number = {**number, "minimum": 0}
        return {"anyOf": [number, _DURATION_STRING]}

    def _distribution(self, schema: core_schema.BeforeValidatorFunctionSchema) -> JsonSchemaValue:
        """A constant written as a bare number or duration, or a mapping tagged with ``dist``."""
        short: JsonSchemaValue = {"anyOf": [{"type": "number", "minimum": 0}, _DURATION_STRING]}
        short["description"] = "a constant duration"
        return {"anyOf": [short, self.generate_inner(schema["schema"])]}


# Bounds pydantic leaves beside a duration's alternatives, and their JSON Schema keywords.
_BOUNDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum"}


def _tidy(node: Any) -> None:
    """Move loose bounds onto the number forms; make keyed tables refuse malformed keys."""
    if isinstance(node, list):
        for item in node:
            _tidy(item)
        return
    if not isinstance(node, dict):
        return
    bounds = {_BOUNDS[k]: node.pop(k) for k in list(node) if k in _BOUNDS}
    if bounds:
        _bound_numbers(node, bounds)
    patterns = node.get("patternProperties")
    if isinstance(patterns, dict) and len(patterns) == 1:
        ((pattern, values),) = patterns.items()
        del node["patternProperties"]
        node["propertyNames"] = {**node.get("propertyNames", {}), "pattern": pattern}
        node["additionalProperties"] = values
    for value in node.values():
        _tidy(value)


def _bound_numbers(node: dict[str, Any], bounds: dict[str, Any]) -> None:
    if node.get("type") == "number":
        node.update(bounds)
    for branch in node.get("anyOf", []):
        _bound_numbers(branch, bounds)


def _per_product_keys(process_time: dict[str, Any]) -> None:
    """A per-product table's keys are product ids, never a distribution's own fields.

    The loader reads ``{mean: 60s}`` as a distribution missing its tag, not as a table.
    """
    for branch in process_time["oneOf"]:
        if "propertyNames" in branch:
            branch["propertyNames"]["not"] = {"enum": sorted(_PARAMS | {"dist"})}


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file, as a JSON-ready mapping."""
    schema = Scenario.model_json_schema(mode="validation", schema_generator=_ScenarioSchema)
    _tidy(schema)
    schema["required"] = [name for name in schema["required"] if name != "products"]
    for name, definition in schema.get("$defs", {}).items():
        if name.lower() in DIST_NAMES:
            # The loader needs the tag to tell a distribution from a per-product table.
            required = definition.get("required", [])
            definition["required"] = ["dist", *(r for r in required if r != "dist")]
    _per_product_keys(schema["$defs"]["Station"]["properties"]["process_time"])
    schema.pop("title", None)
    return {"$schema": DRAFT, "title": "shopfloor-twin scenario", **schema}


def schema_text() -> str:
    """The schema as the text of a ``.json`` file."""
    return json.dumps(scenario_schema(), indent=2, ensure_ascii=False) + "\n"
