"""docs/python.md and libdpu.pyi match the module's docstrings; every public name has one."""
import ast
import os
import subprocess
import sys

import libdpu

from conftest import SOURCE_DIR

TOOL = SOURCE_DIR / "bindings" / "python" / "tools" / "gen_api.py"


def test_reference_and_stubs_are_generated_from_the_module():
    module_dir = os.path.dirname(libdpu.__file__)
    r = subprocess.run([sys.executable, str(TOOL), "--module-dir", module_dir, "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_every_public_name_is_in_the_docs_and_the_stubs():
    doc = (SOURCE_DIR / "docs" / "python.md").read_text()
    stub = ast.parse((SOURCE_DIR / "bindings" / "python" / "libdpu.pyi").read_text())
    stub_names = {n.name for n in stub.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    for name in dir(libdpu):
        if name.startswith("_"):
            continue
        obj = getattr(libdpu, name)
        assert (obj.__doc__ or "").strip(), f"{name} has no docstring"
        assert f"`{name}" in doc, f"docs/python.md misses {name}"
        assert name in stub_names, f"libdpu.pyi misses {name}"


def test_the_check_fails_for_an_undocumented_name(tmp_path):
    # The generator itself must notice a missing docstring: run it on a module that has one.
    fake = tmp_path / "libdpu.py"
    fake.write_text('"""Fake."""\n\ndef documented():\n    """Yes."""\n\n\ndef bare():\n    pass\n\n\n'
                    'class Error(Exception):\n    """E."""\n')
    r = subprocess.run([sys.executable, str(TOOL), "--module-dir", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "bare" in r.stderr
