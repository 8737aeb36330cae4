r"""JSON Schema ``pattern``: ECMA-262 regular expressions, matched in linear time.

JSON Schema's ``pattern`` is an ECMA-262 regular expression, searched (not anchored).
Each pattern is translated once into the syntax of Rust's ``regex`` crate (pydantic-core's
engine: no backtracking, time linear in the input) with ECMA-262's meanings: ``\d``/``\w``/``\b``
are ASCII, ``\s`` is ECMA's whitespace set, ``.`` stops at line terminators, ``$`` matches at the
very end only (Python's ``re``, and so jsonschema, also match before a final ``\n``: here the spec
wins), ``\p{...}`` works, ``\cX``, ``\uXXXX``, ``\u{...}`` escapes. Only a pattern the linear
engine cannot run (lookaround, backreferences) falls back to a backtracking engine (translated
the same way): the ``regex`` package (the client's ``regex`` extra), run with a time bound of
:data:`FALLBACK_TIMEOUT` seconds per match, so a catastrophic pattern costs at most that much (and,
as ``regex`` releases the GIL while it matches, never holds other threads). A match that passes the
bound is refused with its own error naming the pattern and the bound. Python's ``re`` only checks
the syntax (it has no time bound); without ``regex`` installed, such a pattern fails at its first
match with an error naming the extra.

Pure Python at import (the standard library only): pydantic-core (the linear engine), ``regex``
(the fallback) and jsonschema are imported where a pattern or a validator first needs them, so the
generator can check a schema's patterns without loading pydantic (see
``runcomfy_codegen.carried``).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

FALLBACK_TIMEOUT = 0.5
"""Seconds one match of a pattern that needs backtracking (lookaround, backreferences) may take."""

_Ranges = tuple[tuple[int, int], ...]
_DIGIT: _Ranges = ((0x30, 0x39),)
_WORD: _Ranges = ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A))
_SPACE: _Ranges = (
    (0x09, 0x0D),
    (0x20, 0x20),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
    (0xFEFF, 0xFEFF),
)
_LINE_END: _Ranges = ((0x0A, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029))
_CLASSES = {"d": _DIGIT, "w": _WORD, "s": _SPACE}


def _complement(ranges: _Ranges) -> _Ranges:
    out, start = [], 0
    for low, high in ranges:
        if low > start:
            out.append((start, low - 1))
        start = high + 1
    if start <= 0x10FFFF:
        out.append((start, 0x10FFFF))
    return tuple(out)


class _Syntax:
    """How one target engine spells what an ECMA-262 pattern means."""

    def __init__(self, rust: bool) -> None:
        self.rust = rust

    def char(self, code: int) -> str:
        return f"\\x{{{code:X}}}" if self.rust else f"\\U{code:08X}"

    def ranges(self, ranges: _Ranges) -> str:
        return "".join(self.char(a) if a == b else f"{self.char(a)}-{self.char(b)}" for a, b in ranges)

    def end(self) -> str:
        return "$" if self.rust else "\\Z"

    def boundary(self, negated: bool) -> str:
        inner = "\\B" if negated else "\\b"
        return f"(?-u:{inner})" if self.rust else f"(?a:{inner})"

    def nothing(self) -> str:
        return "[^\\x{0}-\\x{10FFFF}]" if self.rust else "(?!)"


class PatternError(ValueError):
    """A ``pattern`` that is not an ECMA-262 regular expression either engine can run."""


def _escape_code(pattern: str, i: int) -> tuple[int | None, int]:
    """The code point of the escape at ``pattern[i]`` (the char after the backslash), and the next index."""
    c = pattern[i]
    simple = {"t": 9, "n": 10, "v": 11, "f": 12, "r": 13, "0": 0}
    if c in simple and not (c == "0" and pattern[i + 1 : i + 2].isdigit()):
        return simple[c], i + 1
    if c == "c" and i + 1 < len(pattern) and pattern[i + 1].isascii() and pattern[i + 1].isalpha():
        return ord(pattern[i + 1]) % 32, i + 2
    if c == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", pattern[i + 1 : i + 3]):
        return int(pattern[i + 1 : i + 3], 16), i + 3
    if c == "u":
        braced = re.match(r"\{([0-9A-Fa-f]{1,6})\}", pattern[i + 1 :])
        if braced:
            return int(braced.group(1), 16), i + 1 + braced.end()
        if re.fullmatch(r"[0-9A-Fa-f]{4}", pattern[i + 1 : i + 5]):
            code = int(pattern[i + 1 : i + 5], 16)
            low = re.match(r"\\u([Dd][C-Fc-f][0-9A-Fa-f]{2})", pattern[i + 5 :])
            if 0xD800 <= code <= 0xDBFF and low:  # a surrogate pair spelled as two escapes
                return 0x10000 + ((code - 0xD800) << 10) + (int(low.group(1), 16) - 0xDC00), i + 11
            return code, i + 5
    if not c.isalnum():
        return ord(c), i + 1  # an escaped punctuation character stands for itself
    return None, i


def translate(pattern: str, *, rust: bool) -> str:
    """``pattern`` (ECMA-262, Unicode mode) in the syntax of Rust's ``regex`` or Python's ``re``."""
    syntax = _Syntax(rust)
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                raise PatternError("a pattern cannot end with a backslash")
            e = pattern[i + 1]
            if e.lower() in _CLASSES:
                ranges = _CLASSES[e.lower()]
                out.append(f"[{syntax.ranges(ranges if e.islower() else _complement(ranges))}]")
                i += 2
            elif e in "bB":
                out.append(syntax.boundary(e == "B"))
                i += 2
            elif e in "pP":
                out.append(pattern[i : i + 2])
                i += 2
            elif e == "k" and pattern[i + 2 : i + 3] == "<":
                close = pattern.find(">", i)
                if close < 0:
                    raise PatternError("an unclosed \\k<name>")
                out.append(f"(?P={pattern[i + 3 : close]})")
                i = close + 1
            elif e.isdigit() and e != "0":
                digits = re.match(r"\d+", pattern[i + 1 :])
                assert digits is not None
                out.append("\\" + digits.group(0))  # a backreference
                i += 1 + len(digits.group(0))
            else:
                code, j = _escape_code(pattern, i + 1)
                if code is None:
                    raise PatternError(f"unknown escape \\{e}")
                out.append(syntax.char(code))
                i = j
        elif c == "[":
            i = _translate_class(pattern, i, syntax, out)
        elif c == ".":
            out.append(f"[^{syntax.ranges(_LINE_END)}]")
            i += 1
        elif c == "$":
            out.append(syntax.end())
            i += 1
        elif c == "(" and pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
            out.append("(?P<")
            i += 3
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _translate_class(pattern: str, i: int, syntax: _Syntax, out: list[str]) -> int:
    """Translate the class starting at ``pattern[i] == "["``; returns the index after its ``]``."""
    i += 1
    negated = pattern.startswith("^", i)
    i += negated
    items: list[str] = []
    previous_is_char = False
    n = len(pattern)
    while True:
        if i >= n:
            raise PatternError("an unclosed character class")
        c = pattern[i]
        if c == "]":
            i += 1
            break
        if c == "\\":
            if i + 1 >= n:
                raise PatternError("a pattern cannot end with a backslash")
            e = pattern[i + 1]
            if e.lower() in _CLASSES:
                ranges = _CLASSES[e.lower()]
                items.append(syntax.ranges(ranges if e.islower() else _complement(ranges)))
                i += 2
                previous_is_char = False
                continue
            if e in "pP":
                if not syntax.rust:
                    raise PatternError("\\p{...} needs the Rust engine")
                close = pattern.find("}", i)
                if close < 0:
                    raise PatternError("an unclosed \\p{...}")
                items.append(pattern[i : close + 1])
                i = close + 1
                previous_is_char = False
                continue
            code: int | None = 8 if e == "b" else None
            if code is not None:
                i += 2
            else:
                code, i = _escape_code(pattern, i + 1)
                if code is None:
                    raise PatternError(f"unknown escape \\{e} in a character class")
            items.append(syntax.char(code))
            previous_is_char = True
            continue
        if c == "-" and previous_is_char and i + 1 < n and pattern[i + 1] != "]":
            items.append("-")
            previous_is_char = False
            i += 1
            continue
        items.append(syntax.char(ord(c)) if not c.isalnum() else c)
        previous_is_char = True
        i += 1
    if not items:  # ECMA's [] matches nothing, [^] any character
        out.append(f"[{syntax.ranges(((0, 0x10FFFF),))}]" if negated else syntax.nothing())
        return i
    out.append(f"[{'^' if negated else ''}{''.join(items)}]")
    return i


@lru_cache(maxsize=4096)
def ecma_matcher(pattern: str) -> Callable[[str], bool]:
    """A function telling whether ``pattern`` (ECMA-262) matches somewhere in a string.

    Raises :class:`PatternError` for a pattern neither engine can run."""
    from pydantic_core import SchemaValidator, core_schema  # the linear engine, loaded on first use

    try:
        rust = translate(pattern, rust=True)
        validator = SchemaValidator(core_schema.str_schema(pattern=rust, regex_engine="rust-regex"))
    except (PatternError, Exception):  # pydantic-core's SchemaError: the linear engine cannot run it
        pass
    else:
        return validator.isinstance_python
    try:
        translated = translate(pattern, rust=False)
        re.compile(translated)  # the syntax, with the standard library (no time bound: never matched)
    except (re.error, PatternError, OverflowError, RecursionError) as exc:
        raise PatternError(str(exc)) from None
    compiled = _bounded_compile(pattern, translated, required=False)

    def search(text: str) -> bool:
        nonlocal compiled
        if compiled is None:
            compiled = _bounded_compile(pattern, translated, required=True)
        try:
            return compiled.search(text, timeout=FALLBACK_TIMEOUT) is not None
        except TimeoutError:
            raise PatternTimeoutError(
                f"the pattern {pattern!r} needs backtracking (lookaround or backreferences) and took "
                f"longer than its bound of {FALLBACK_TIMEOUT} s on this string of {len(text)} characters"
            ) from None

    return search


class PatternTimeoutError(PatternError):
    """A match of a backtracking pattern took longer than :data:`FALLBACK_TIMEOUT`."""


def _bounded_compile(pattern: str, translated: str, *, required: bool) -> Any:
    """``translated`` compiled by the ``regex`` package (whose matches take a ``timeout``).

    Without ``regex``: ``None``, or with ``required``, an error naming the extra that brings it."""
    try:  # the client's "regex" extra (the generator depends on it); imported by name: no type stubs
        regex = importlib.import_module("regex")
    except ImportError:
        if not required:
            return None
        raise ModuleNotFoundError(
            f"the pattern {pattern!r} needs backtracking (lookaround or backreferences), which is run with "
            "a time bound by the regex package, not installed: pip install 'runcomfy-models[regex]'",
            name="regex",
        ) from None
    try:
        return regex.compile(translated, regex.VERSION0)
    except (regex.error, OverflowError, RecursionError) as exc:
        raise PatternError(str(exc)) from None


def ecma_search(pattern: str, text: str) -> bool:
    """Does ``pattern`` (ECMA-262) match somewhere in ``text``? (See the module's notes.)"""
    return ecma_matcher(pattern)(text)


def _ecma_matches(pattern: str, text: str) -> bool | str:
    """``True``/``False``, or why the pattern could not be run on ``text``."""
    try:
        return ecma_search(pattern, text)
    except PatternError as exc:
        return str(exc)


@lru_cache(maxsize=1)
def ecma_validator_class() -> Any:
    """jsonschema's Draft 2020-12 validator with ``pattern``, ``patternProperties``,
    ``additionalProperties`` and ``unevaluatedProperties`` matching patterns as ECMA-262, bounded in
    time (:func:`ecma_search`) instead of with Python's ``re``."""
    from jsonschema import Draft202012Validator, ValidationError, validators

    def pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Any:
        if validator.is_type(instance, "string"):
            matched = _ecma_matches(patrn, instance)
            if matched is False:
                yield ValidationError(f"{instance!r} does not match {patrn!r}")
            elif isinstance(matched, str):
                yield ValidationError(matched)

    def pattern_properties(validator: Any, patterns: Any, instance: Any, schema: Any) -> Any:
        if not validator.is_type(instance, "object"):
            return
        for patrn, subschema in patterns.items():
            for key, value in instance.items():
                matched = _ecma_matches(patrn, key)
                if isinstance(matched, str):
                    yield ValidationError(matched)
                elif matched:
                    yield from validator.descend(value, subschema, path=key, schema_path=patrn)

    def additional_properties(validator: Any, additional: Any, instance: Any, schema: Any) -> Any:
        if not validator.is_type(instance, "object"):
            return
        properties = schema.get("properties", {})
        patterns = schema.get("patternProperties", {})
        extras = [
            key
            for key in instance
            if key not in properties and not any(_ecma_matches(p, key) is True for p in patterns)
        ]
        if validator.is_type(additional, "object"):
            for extra in extras:
                yield from validator.descend(instance[extra], additional, path=extra)
        elif not additional and extras:
            listed = ", ".join(repr(each) for each in sorted(extras, key=str))
            if patterns:
                regexes = ", ".join(repr(each) for each in sorted(patterns))
                yield ValidationError(
                    f"{listed} {'does' if len(extras) == 1 else 'do'} not match any of the regexes: {regexes}"
                )
            else:
                yield ValidationError(
                    f"Additional properties are not allowed ({listed} {'was' if len(extras) == 1 else 'were'} unexpected)"
                )

    def evaluated_keys(validator: Any, instance: Any, schema: Any) -> list[Any]:
        # jsonschema 4.26's _utils.find_evaluated_property_keys_by_schema (MIT licence), with its
        # patternProperties matched by ecma_search instead of Python's unbounded re.search.
        if validator.is_type(schema, "boolean"):
            return []
        keys: list[Any] = []
        for ref_keyword in ("$ref", "$dynamicRef"):
            ref = schema.get(ref_keyword)
            if ref is not None:
                resolved = validator._resolver.lookup(ref)
                keys += evaluated_keys(
                    validator.evolve(schema=resolved.contents, _resolver=resolved.resolver),
                    instance,
                    resolved.contents,
                )
        properties = schema.get("properties")
        if validator.is_type(properties, "object"):
            keys += properties.keys() & instance.keys()
        for keyword in ("additionalProperties", "unevaluatedProperties"):
            if (subschema := schema.get(keyword)) is not None:
                keys += (
                    k for k, v in instance.items() if next(validator.descend(v, subschema), None) is None
                )
        for key in instance if "patternProperties" in schema else ():
            keys += (key for p in schema["patternProperties"] if _ecma_matches(p, key) is True)
        for key, subschema in schema.get("dependentSchemas", {}).items():
            if key in instance:
                keys += evaluated_keys(validator, instance, subschema)
        for keyword in ("allOf", "oneOf", "anyOf"):
            for subschema in schema.get(keyword, []):
                if next(validator.descend(instance, subschema), None) is None:
                    keys += evaluated_keys(validator, instance, subschema)
        if "if" in schema:
            if validator.evolve(schema=schema["if"]).is_valid(instance):
                keys += evaluated_keys(validator, instance, schema["if"])
                if "then" in schema:
                    keys += evaluated_keys(validator, instance, schema["then"])
            elif "else" in schema:
                keys += evaluated_keys(validator, instance, schema["else"])
        return keys

    def unevaluated_properties(validator: Any, unevaluated: Any, instance: Any, schema: Any) -> Any:
        # jsonschema 4.26's _keywords.unevaluatedProperties (MIT licence), with evaluated_keys above.
        if not validator.is_type(instance, "object"):
            return
        evaluated = evaluated_keys(validator, instance, schema)
        bad = [
            key
            for key in instance
            if key not in evaluated
            and next(validator.descend(instance[key], unevaluated, path=key, schema_path=key), None)
            is not None
        ]
        if bad:
            verb = "was" if len(bad) == 1 else "were"
            if unevaluated is False:
                listed = ", ".join(repr(each) for each in sorted(bad, key=str))
                yield ValidationError(f"Unevaluated properties are not allowed ({listed} {verb} unexpected)")
            else:
                listed = ", ".join(repr(each) for each in bad)
                yield ValidationError(
                    f"Unevaluated properties are not valid under the given schema ({listed} {verb} unevaluated and invalid)"
                )

    return validators.extend(  # type: ignore[no-untyped-call]
        Draft202012Validator,
        {
            "pattern": pattern,
            "patternProperties": pattern_properties,
            "additionalProperties": additional_properties,
            "unevaluatedProperties": unevaluated_properties,
        },
    )


_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_ONE = (
    "items",
    "additionalItems",
    "additionalProperties",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
)


def _without_dialects(schema: Any) -> Any:
    """``schema`` without ``$schema`` keywords: jsonschema would switch a subschema that names its
    dialect back to its stock validator (and Python's ``re``); everything here is Draft 2020-12."""
    if not isinstance(schema, dict):
        return schema
    out = {k: v for k, v in schema.items() if k != "$schema"}
    for key in _SCHEMA_MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {name: _without_dialects(sub) for name, sub in out[key].items()}
    for key in _SCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [_without_dialects(sub) for sub in out[key]]
    for key in _SCHEMA_ONE:
        if key in out:
            out[key] = _without_dialects(out[key])
    return out


def ecma_validator(schema: Any) -> Any:
    """A Draft 2020-12 validator for ``schema`` whose patterns are ECMA-262, in linear time."""
    return ecma_validator_class()(_without_dialects(schema))
