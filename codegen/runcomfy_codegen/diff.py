"""``runcomfy-codegen diff``: client-breaking changes between two schema stores.

Each change has a severity, in the manner of oasdiff and buf:

* ``breaking``: code or stored payloads that were valid before may now fail (model or property
  removed, property became required, new required property without default, type changed or
  narrowed, enum value removed, bound tightened, a ``validations`` rule added or tightened, an output
  field removed or its type changed);
* ``warning``: nothing fails, but behaviour changes silently (a default changed, a new required
  property that has a default);
* ``info``: nothing breaks (model or optional property added, enum value added, bound loosened, rule
  loosened or removed, title/description changed).

JSON output (``--format json``) has stable keys: ``{"breaking": int, "warnings": int, "models":
[{"model_id", "change": "added"|"removed"|"changed", "changes": [{"severity", "code", "where",
"message"}]}]}``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from runcomfy_codegen.store import Store

BREAKING, WARNING, INFO = "breaking", "warning", "info"

# keyword -> True when a larger value is stricter (a lower bound), False when a smaller one is.
_BOUNDS = {
    "minimum": True,
    "exclusiveMinimum": True,
    "minLength": True,
    "minItems": True,
    "minProperties": True,
    "minContains": True,
    "maximum": False,
    "exclusiveMaximum": False,
    "maxLength": False,
    "maxItems": False,
    "maxProperties": False,
    "maxContains": False,
}
_EXACT = ("pattern", "multipleOf", "const", "format", "uniqueItems", "additionalProperties")


@dataclass(frozen=True)
class Change:
    severity: str
    code: str
    where: str
    message: str


@dataclass
class ModelDiff:
    model_id: str
    change: str
    changes: list[Change] = field(default_factory=list)


@dataclass
class DiffReport:
    models: list[ModelDiff] = field(default_factory=list)

    def count(self, severity: str) -> int:
        return sum(1 for m in self.models for c in m.changes if c.severity == severity)

    @property
    def breaking(self) -> int:
        return self.count(BREAKING)

    @property
    def warnings(self) -> int:
        return self.count(WARNING)

    def to_json(self) -> str:
        data = {
            "breaking": self.breaking,
            "warnings": self.warnings,
            "models": [
                {"model_id": m.model_id, "change": m.change, "changes": [asdict(c) for c in m.changes]}
                for m in self.models
            ],
        }
        return json.dumps(data, indent=2, ensure_ascii=False)

    def to_markdown(self) -> str:
        lines = [f"### Schema changes: {self.breaking} breaking, {self.warnings} warning(s)", ""]
        if not self.models:
            lines.append("No changes.")
        for model in self.models:
            lines.append(f"#### `{model.model_id}` ({model.change})")
            lines.append("")
            lines.append("| severity | change | where | detail |")
            lines.append("|---|---|---|---|")
            for c in model.changes:
                detail = c.message.replace("|", "\\|")
                lines.append(f"| {c.severity} | {c.code} | `{c.where}` | {detail} |")
            lines.append("")
        return "\n".join(lines)


def _types(schema: Any) -> set[str] | None:
    if not isinstance(schema, dict) or "type" not in schema:
        return None
    names = schema["type"]
    found = {names} if isinstance(names, str) else set(names)
    if "number" in found:
        found.add("integer")  # number includes integer
    return found


def _rules(schema: Any) -> dict[tuple[str, str], dict[str, Any]]:
    if not isinstance(schema, dict):
        return {}
    rules = {}
    for entry in schema.get("validations", []) or []:
        text = str(entry.get("validation_rule", ""))
        for op in ("<=", ">=", "!=", "<", ">", "="):
            if text.endswith(op):
                rules[(text[: -len(op)], op)] = entry
                break
    return rules


class _Differ:
    def __init__(self, role: str) -> None:
        self.role = role
        self.changes: list[Change] = []

    def add(self, severity: str, code: str, where: str, message: str) -> None:
        self.changes.append(Change(severity, code, f"{self.role}{where}", message))

    def schema(self, old: Any, new: Any, where: str) -> None:
        if not isinstance(old, dict) or not isinstance(new, dict):
            if old != new:
                self.add(BREAKING, "schema-changed", where, "the schema changed shape")
            return
        self._annotations(old, new, where)
        self._type(old, new, where)
        self._enum(old, new, where)
        self._bounds(old, new, where)
        self._rules(old, new, where)
        if self.role == "input":
            self._properties_input(old, new, where)
        else:
            self._properties_output(old, new, where)
        if isinstance(old.get("items"), dict) and isinstance(new.get("items"), dict):
            self.schema(old["items"], new["items"], f"{where}/items")

    def _annotations(self, old: dict[str, Any], new: dict[str, Any], where: str) -> None:
        for key in ("title", "description"):
            if old.get(key) != new.get(key):
                self.add(INFO, f"{key}-changed", where, f"{key} changed")
        if ("default" in old or "default" in new) and old.get("default") != new.get("default"):
            self.add(
                WARNING,
                "default-changed",
                where,
                f"default changed from {json.dumps(old.get('default'))} to {json.dumps(new.get('default'))}: "
                "requests that leave it out now behave differently",
            )

    def _type(self, old: dict[str, Any], new: dict[str, Any], where: str) -> None:
        before, after = _types(old), _types(new)
        if before == after:
            return
        if after is None:
            self.add(INFO, "type-widened", where, f"type {sorted(before or [])} removed: any type accepted")
        elif before is None or not before <= after:
            severity = BREAKING
            self.add(severity, "type-changed", where, f"type {sorted(before or ['any'])} -> {sorted(after)}")
        else:
            self.add(INFO, "type-widened", where, f"type {sorted(before)} -> {sorted(after)}")

    def _enum(self, old: dict[str, Any], new: dict[str, Any], where: str) -> None:
        before, after = old.get("enum"), new.get("enum")
        if before == after:
            return
        if after is None:
            self.add(INFO, "enum-removed", where, "enum removed: any value of the type accepted")
            return
        if before is None:
            self.add(
                BREAKING,
                "enum-added",
                where,
                f"values now limited to {json.dumps(after, ensure_ascii=False)}",
            )
            return
        removed = [v for v in before if v not in after]
        added = [v for v in after if v not in before]
        if removed:
            self.add(
                BREAKING,
                "enum-value-removed",
                where,
                f"enum values removed: {json.dumps(removed, ensure_ascii=False)}",
            )
        if added:
            self.add(
                INFO, "enum-value-added", where, f"enum values added: {json.dumps(added, ensure_ascii=False)}"
            )

    def _bounds(self, old: dict[str, Any], new: dict[str, Any], where: str) -> None:
        for key, larger_is_stricter in _BOUNDS.items():
            a, b = old.get(key), new.get(key)
            if a == b:
                continue
            if a is None:
                self.add(BREAKING, "bound-added", where, f"{key} {b} added")
            elif b is None:
                self.add(INFO, "bound-removed", where, f"{key} {a} removed")
            elif (b > a) == larger_is_stricter:
                self.add(BREAKING, "bound-tightened", where, f"{key} {a} -> {b}")
            else:
                self.add(INFO, "bound-loosened", where, f"{key} {a} -> {b}")
        for key in _EXACT:
            a, b = old.get(key), new.get(key)
            if a == b:
                continue
            if key == "format":
                self.add(INFO, "format-changed", where, f"format {a!r} -> {b!r}")
            elif b is None or (key == "additionalProperties" and b is True):
                self.add(INFO, f"{key}-removed", where, f"{key} {json.dumps(a)} removed")
            else:
                self.add(BREAKING, f"{key}-changed", where, f"{key} {json.dumps(a)} -> {json.dumps(b)}")

    def _rules(self, old: dict[str, Any], new: dict[str, Any], where: str) -> None:
        before, after = _rules(old), _rules(new)
        for key, rule in after.items():
            text = f"{key[0]}{key[1]}"
            if key not in before:
                self.add(BREAKING, "rule-added", where, f"rule {text} {rule.get('validation_value')} added")
                continue
            a: float = before[key].get("validation_value", 0)
            b: float = rule.get("validation_value", 0)
            if a == b:
                continue
            op = key[1]
            stricter = (b < a) if op in ("<", "<=") else (b > a) if op in (">", ">=") else True
            if stricter:
                self.add(BREAKING, "rule-tightened", where, f"rule {text} {a} -> {b}")
            else:
                self.add(INFO, "rule-loosened", where, f"rule {text} {a} -> {b}")
        for key, rule in before.items():
            if key not in after:
                self.add(
                    INFO,
                    "rule-removed",
                    where,
                    f"rule {key[0]}{key[1]} {rule.get('validation_value')} removed",
                )

    def _properties_input(self, old: dict[str, Any], new: dict[str, Any], where: str) -> None:
        props_a, props_b = old.get("properties", {}) or {}, new.get("properties", {}) or {}
        req_a, req_b = set(old.get("required", []) or []), set(new.get("required", []) or [])
        for name, sub in props_a.items():
            at = f"{where}/properties/{name}"
            if name not in props_b:
                self.add(BREAKING, "property-removed", at, f"property {name!r} removed")
                continue
            if name in req_b and name not in req_a:
                self.add(BREAKING, "property-became-required", at, f"property {name!r} became required")
            elif name in req_a and name not in req_b:
                self.add(INFO, "property-became-optional", at, f"property {name!r} became optional")
            self.schema(sub, props_b[name], at)
        for name, sub in props_b.items():
            if name in props_a:
                continue
            at = f"{where}/properties/{name}"
            if name in req_b and not (isinstance(sub, dict) and "default" in sub):
                self.add(
                    BREAKING, "required-property-added", at, f"new required property {name!r} without default"
                )
            elif name in req_b:
                self.add(
                    WARNING,
                    "required-property-added-with-default",
                    at,
                    f"new required property {name!r} (it has a default)",
                )
            else:
                self.add(INFO, "optional-property-added", at, f"new optional property {name!r}")

    def _properties_output(self, old: dict[str, Any], new: dict[str, Any], where: str) -> None:
        props_a, props_b = old.get("properties", {}) or {}, new.get("properties", {}) or {}
        for name, sub in props_a.items():
            at = f"{where}/properties/{name}"
            if name not in props_b:
                self.add(BREAKING, "output-field-removed", at, f"output field {name!r} removed")
                continue
            self.schema(sub, props_b[name], at)
        for name in props_b:
            if name not in props_a:
                self.add(
                    INFO, "output-field-added", f"{where}/properties/{name}", f"new output field {name!r}"
                )

    def output_type(self, old: Any, new: Any, where: str) -> None:
        before, after = _types(old), _types(new)
        if before != after:
            self.add(
                BREAKING,
                "output-type-changed",
                where,
                f"type {sorted(before or ['any'])} -> {sorted(after or ['any'])}",
            )


def diff_stores(old: Store, new: Store) -> DiffReport:
    report = DiffReport()
    for model_id in sorted(old.keys() | new.keys()):
        if model_id not in new:
            report.models.append(
                ModelDiff(model_id, "removed", [Change(BREAKING, "model-removed", "", "model removed")])
            )
            continue
        if model_id not in old:
            report.models.append(
                ModelDiff(model_id, "added", [Change(INFO, "model-added", "", "model added")])
            )
            continue
        (in_a, out_a), (in_b, out_b) = old[model_id], new[model_id]
        inputs, outputs = _Differ("input"), _Differ("output")
        inputs.schema(in_a, in_b, "")
        _output_schema(outputs, out_a, out_b, "")
        changes = inputs.changes + outputs.changes
        if changes:
            report.models.append(ModelDiff(model_id, "changed", changes))
    return report


def _output_schema(differ: _Differ, old: Any, new: Any, where: str) -> None:
    """Output fields: removing one or changing its type breaks a client; type checks come first."""
    if isinstance(old, dict) and isinstance(new, dict):
        for name, sub in (old.get("properties", {}) or {}).items():
            other = (new.get("properties", {}) or {}).get(name)
            if other is not None and _types(sub) != _types(other):
                differ.output_type(sub, other, f"{where}/properties/{name}")
    before = len(differ.changes)
    differ.schema(old, new, where)
    # in outputs, a type change is already reported as output-type-changed
    differ.changes[before:] = [
        c for c in differ.changes[before:] if c.code not in ("type-changed", "type-widened")
    ]
