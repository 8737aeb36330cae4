from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SEED_PAGE = DATA / "seed" / "000_4927af58cff406c6.txt"
MAKE_SCHEMAS = ROOT / "benchmarks" / "make_schemas.py"
SEED_ID = "bytedance/seedance-v1.5-pro/image-to-video"


def load_module_from_source(source: str, name: str = "runcomfy_models.catalog._test_model") -> Any:
    """Execute generated module source as a real module (registered in sys.modules)."""
    module = types.ModuleType(name)
    module.__file__ = f"<generated {name}>"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


@pytest.fixture
def compile_schema():
    """Generate and import a module for an in-memory input schema."""
    from runcomfy_codegen.pipeline import render_schema

    counter = iter(range(10**9))

    def build(schema: Any, output: Any = None, **kwargs: Any) -> Any:
        source = render_schema("test/model", schema, output, **kwargs)
        return load_module_from_source(source, f"runcomfy_models.catalog._test_{next(counter)}")

    return build


def pytest_terminal_summary(terminalreporter: Any) -> None:
    try:
        from tests.test_fault_matrix import LEDGER
    except ImportError:
        LEDGER = []
    if LEDGER:
        terminalreporter.section("fault matrix (fault, endpoint, outcome, submits seen, jobs held)")
        for fault, where, outcome, submits, jobs in LEDGER:
            terminalreporter.write_line(f"{fault:11} {where:12} {outcome:26} submits {submits}  jobs {jobs}")
        duplicates = sum(max(0, s - 1) for *_, s, _ in LEDGER)
        terminalreporter.write_line(f"submitted {len(LEDGER)}, duplicates {duplicates}")
    try:
        from tests.test_conformance import REFUSALS, REPORT
    except ImportError:
        return
    if not REPORT:
        return
    total: dict[str, int] = {}
    terminalreporter.section("JSON Schema conformance (generated Input vs jsonschema)")
    for name in sorted(REPORT):
        counts = REPORT[name]
        for key, value in counts.items():
            total[key] = total.get(key, 0) + value
        terminalreporter.write_line(
            f"{name:22} agreed {counts['agreed']:4}  disagreed {counts['disagreed']:3}  refused {counts['refused']:3}"
        )
    terminalreporter.write_line(
        f"{'TOTAL':22} agreed {total.get('agreed', 0):4}  disagreed {total.get('disagreed', 0):3}  "
        f"refused {total.get('refused', 0):3}"
    )
    for name, reasons in sorted(REFUSALS.items()):
        for reason in reasons:
            terminalreporter.write_line(f"refused in {name}: {reason}")
