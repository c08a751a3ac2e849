"""cmake --install puts the module and its stubs where /usr/bin/python3 finds them under a prefix."""
import os
import subprocess
import sys

import pytest


@pytest.mark.skipif("DPU_BINARY_DIR" not in os.environ, reason="run by CTest")
def test_cmake_install_component_python(tmp_path):
    prefix = tmp_path / "prefix"
    r = subprocess.run(["cmake", "--install", os.environ["DPU_BINARY_DIR"], "--prefix", str(prefix),
                        "--component", "python"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    site = prefix / "lib" / "python3" / "dist-packages"
    names = sorted(p.name for p in site.iterdir())
    assert "libdpu.pyi" in names and any(n.startswith("libdpu.cpython") for n in names), names
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    code = ("import libdpu; b = libdpu.create_backend('reference'); "
            "print(libdpu.__file__); print(libdpu.parse_rule('priority=1 actions=drop'))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [str(next(site.glob("libdpu.cpython*"))),
                                     "priority=1 actions=drop"]
