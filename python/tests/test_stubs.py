"""The hand-written stubs (_core.pyi) name exactly what the compiled module exports."""

import ast
import pathlib

import anodiff
from anodiff import _core

STUB = pathlib.Path(anodiff.__file__).with_name("_core.pyi")


def test_stub_matches_compiled_module():
    tree = ast.parse(STUB.read_text())
    stubbed = {
        n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))
    }
    exported = {n for n in dir(_core) if not n.startswith("_")}
    assert stubbed == exported
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        methods = {m.name for m in cls.body if isinstance(m, ast.FunctionDef)}
        for m in methods:
            assert hasattr(getattr(_core, cls.name), m), (cls.name, m)
