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

Both stores are read through the loader, so the comparison is of what the generator sees: ``$ref``
resolved (a change under ``$defs`` shows where it is used; an unused definition changes nothing),
``allOf`` merged where exact, vendor keywords dropped. It goes through every applicator:
``properties``, ``items``, ``prefixItems`` (by position), ``additionalProperties``, ``anyOf`` /
``oneOf`` (branches matched by value, then by the JSON types they accept; a plain schema counts as
one branch, so ``anyOf: [T, null]`` -> ``T`` removes a branch), ``allOf`` (by position); the other
applicators (``not``, ``if``/``then``/``else``, ``contains`` ...) are compared whole. Custom rules
are compared as the rule objects the loader parsed. Codes are stable; the README lists them.

JSON output (``--format json``) has stable keys: ``{"breaking": int, "warnings": int, "models":
[{"model_id", "change": "added"|"removed"|"changed", "changes": [{"severity", "code", "where",
"message"}]}]}``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from runcomfy_codegen.ir import Rule
from runcomfy_codegen.schema.dialect import is_annotation, json_types_of
from runcomfy_codegen.store import Store

BREAKING, WARNING, INFO = "breaking", "warning", "info"

CODES = frozenset(
    {
        "model-added", "model-removed", "property-removed", "property-became-required",
        "property-became-optional", "required-property-added", "required-property-added-with-default",
        "optional-property-added", "type-changed", "type-widened", "enum-added", "enum-removed",
        "enum-value-added", "enum-value-removed", "bound-added", "bound-removed", "bound-tightened",
        "bound-loosened", "format-changed", "rule-added", "rule-removed", "rule-tightened", "rule-loosened",
        "branch-added", "branch-removed", "prefix-item-added", "prefix-item-removed", "allof-member-added",
        "allof-member-removed", "constraint-added", "constraint-changed", "constraint-removed",
        "schema-changed", "title-changed", "description-changed", "default-changed",
        "output-field-added", "output-field-removed", "output-type-changed",
        *(f"{key}-{what}" for key in ("pattern", "multipleOf", "const", "uniqueItems", "additionalProperties")
          for what in ("changed", "removed")),
    }
)  # fmt: skip
"""Every change code ``diff`` reports: stable, listed in the README."""

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


def _key(value: Any) -> str:
    """A JSON value's identity (``1``, ``1.0`` and ``true`` kept apart, as JSON Schema's enum does)."""
    return json.dumps(value, sort_keys=True) + type(value).__name__


def _same(a: Any, b: Any) -> bool:
    return _key(a) == _key(b)


def _branches(node: Any, key: str) -> list[Any] | None:
    """The branches of a node that is only an ``anyOf``/``oneOf`` (annotations aside), else None."""
    if not isinstance(node, dict) or key not in node:
        return None
    if any(k != key and not is_annotation(k) for k in node):
        return None
    branches: list[Any] = node[key]
    return branches


def _split_types(node: dict[str, Any]) -> list[Any]:
    """A node as the branches it is the union of: one per JSON type of a ``type`` list (so
    ``{"type": ["integer", "null"]}`` compares with ``anyOf: [{"type": "integer"}, {"type": "null"}]``)."""
    names = node.get("type")
    if not isinstance(names, list) or len(names) < 2:
        return [node]
    return [{**node, "type": name} for name in names]


# Constraint keywords compared as a whole: any change is breaking unless only removed.
_WHOLE = (
    "not", "if", "then", "else", "contains", "propertyNames", "dependentSchemas", "patternProperties",
    "unevaluatedItems", "unevaluatedProperties", "dependentRequired",
)  # fmt: skip


class _Differ:
    def __init__(self, role: str) -> None:
        self.role = role
        self.changes: list[Change] = []

    def add(self, severity: str, code: str, where: str, message: str) -> None:
        assert code in CODES, code
        self.changes.append(Change(severity, code, f"{self.role}{where}", message))

    def schema(self, old: Any, new: Any, where: str) -> None:
        if not isinstance(old, dict) or not isinstance(new, dict):
            if old != new:
                self.add(BREAKING, "schema-changed", where, "the schema changed shape")
            return
        self._annotations(old, new, where)
        for key in ("anyOf", "oneOf"):
            a, b = _branches(old, key), _branches(new, key)
            if a is not None or b is not None:
                self._branch_lists(a or _split_types(old), b or _split_types(new), key, where)
                return
        self._type(old, new, where)
        self._enum(old, new, where)
        self._bounds(old, new, where)
        if self.role == "input":
            self._properties_input(old, new, where)
        else:
            self._properties_output(old, new, where)
        self._sub(old.get("items"), new.get("items"), f"{where}/items", "items")
        self._sub(
            old.get("additionalProperties"),
            new.get("additionalProperties"),
            f"{where}/additionalProperties",
            None,
        )
        self._prefix_items(old, new, where)
        for key in ("anyOf", "oneOf"):
            if key in old or key in new:
                self._branch_lists(old.get(key, [True]), new.get(key, [True]), key, where)
        self._all_of(old, new, where)
        for key in _WHOLE:
            if key in old and key in new and not _same(old[key], new[key]):
                self.add(BREAKING, "constraint-changed", f"{where}/{key}", f"{key} changed")
            elif key in new and key not in old:
                self.add(BREAKING, "constraint-added", f"{where}/{key}", f"{key} added")
            elif key in old and key not in new:
                self.add(INFO, "constraint-removed", f"{where}/{key}", f"{key} removed")

    def _sub(self, old: Any, new: Any, where: str, kind: str | None) -> None:
        """A single subschema position (``items``, ``additionalProperties``)."""
        if (isinstance(old, dict) and isinstance(new, dict)) or (
            kind is not None and old is not None and new is not None and not _same(old, new)
        ):
            self.schema(old, new, where)

    def _prefix_items(self, old: dict[str, Any], new: dict[str, Any], where: str) -> None:
        a, b = old.get("prefixItems") or [], new.get("prefixItems") or []
        for index in range(min(len(a), len(b))):
            self.schema(a[index], b[index], f"{where}/prefixItems/{index}")
        if len(b) > len(a):
            self.add(
                BREAKING,
                "prefix-item-added",
                f"{where}/prefixItems",
                f"{len(b) - len(a)} tuple position(s) constrained",
            )
        elif len(a) > len(b):
            self.add(
                INFO,
                "prefix-item-removed",
                f"{where}/prefixItems",
                f"{len(a) - len(b)} tuple position(s) freed",
            )

    def _all_of(self, old: dict[str, Any], new: dict[str, Any], where: str) -> None:
        a, b = old.get("allOf") or [], new.get("allOf") or []
        for index in range(min(len(a), len(b))):
            self.schema(a[index], b[index], f"{where}/allOf/{index}")
        if len(b) > len(a):
            self.add(
                BREAKING,
                "allof-member-added",
                f"{where}/allOf",
                "allOf gained a member: values must satisfy more",
            )
        elif len(a) > len(b):
            self.add(INFO, "allof-member-removed", f"{where}/allOf", "allOf lost a member")

    def _branch_lists(self, old: list[Any], new: list[Any], key: str, where: str) -> None:
        """Branches of an ``anyOf``/``oneOf`` (a plain schema counts as one branch), matched by value,
        then by the JSON types they accept; an old branch without a match was removed."""
        free = list(range(len(new)))
        for index, branch in enumerate(old):
            at = f"{where}/{key}/{index}"
            match = next((j for j in free if _same(branch, new[j])), None)
            if match is None:
                kinds = json_types_of(branch)
                match = next((j for j in free if json_types_of(new[j]) == kinds), None)
            if match is None:
                self.add(BREAKING, "branch-removed", at, f"{key} branch {index} ({_summary(branch)}) removed")
                continue
            free.remove(match)
            self.schema(branch, new[match], at)
        for j in free:
            severity = INFO if key == "anyOf" else WARNING
            self.add(
                severity, "branch-added", f"{where}/{key}/{j}", f"{key} branch ({_summary(new[j])}) added"
            )

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
        if before is not None and after is not None and [_key(v) for v in before] == [_key(v) for v in after]:
            return
        if before is None and after is None:
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
        keys_before, keys_after = {_key(v) for v in before}, {_key(v) for v in after}
        removed = [v for v in before if _key(v) not in keys_after]
        added = [v for v in after if _key(v) not in keys_before]
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
            if _same(a, b) or (isinstance(a, dict) and isinstance(b, dict)):
                continue  # two additionalProperties schemas are compared position by position
            if key == "format":
                self.add(INFO, "format-changed", where, f"format {a!r} -> {b!r}")
            elif b is None or (key == "additionalProperties" and b is True):
                self.add(INFO, f"{key}-removed", where, f"{key} {json.dumps(a)} removed")
            else:
                self.add(BREAKING, f"{key}-changed", where, f"{key} {json.dumps(a)} -> {json.dumps(b)}")

    def rules(self, before_list: list[Rule], after_list: list[Rule]) -> None:
        """Custom rules, parsed once by the loader's grammar, matched by field, metric and operator."""

        def keyed(rules: list[Rule]) -> dict[tuple[str, bool, str, str], Rule]:
            return {(r.field, r.each_item, r.metric, r.operator): r for r in rules}

        before, after = keyed(before_list), keyed(after_list)
        for key, rule in after.items():
            where = f"/properties/{rule.field}" + ("/items" if rule.each_item else "")
            text = f"{rule.metric}{rule.operator}"
            if key not in before:
                self.add(BREAKING, "rule-added", where, f"rule {text} {rule.value} added")
                continue
            a, b = before[key].value, rule.value
            if a == b:
                continue
            op = rule.operator
            stricter = (b < a) if op in ("<", "<=") else (b > a) if op in (">", ">=") else True
            if stricter:
                self.add(BREAKING, "rule-tightened", where, f"rule {text} {a} -> {b}")
            else:
                self.add(INFO, "rule-loosened", where, f"rule {text} {a} -> {b}")
        for key, rule in before.items():
            if key not in after:
                where = f"/properties/{rule.field}" + ("/items" if rule.each_item else "")
                self.add(
                    INFO, "rule-removed", where, f"rule {rule.metric}{rule.operator} {rule.value} removed"
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
        in_a, in_b = old[model_id].input.resolved, new[model_id].input.resolved
        out_a, out_b = old[model_id].output.resolved, new[model_id].output.resolved
        inputs, outputs = _Differ("input"), _Differ("output")
        inputs.schema(in_a, in_b, "")
        inputs.rules(old[model_id].input.rules, new[model_id].input.rules)
        _output_schema(outputs, out_a, out_b, "")
        changes = inputs.changes + outputs.changes
        if changes:
            report.models.append(ModelDiff(model_id, "changed", changes))
    return report


def _summary(branch: Any) -> str:
    kinds = json_types_of(branch)
    return "/".join(sorted(kinds)) if kinds else json.dumps(branch, ensure_ascii=False)[:60]


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
