"""The in-tree PEP 517 backend of `pip install ./bindings/python` (build_backend/libdpu_build.py).

Its packaging is checked here without compiling anything: the hooks ask pip for nothing, the
metadata carries the library's version, and a wheel it writes is one pip installs.
The whole from-scratch build is checked by hand with scripts/check-pip-install.sh.
"""
import base64
import hashlib
import re
import subprocess
import sys
import sysconfig
import tomllib
import zipfile

import pytest

from conftest import SOURCE_DIR

PYTHON_DIR = SOURCE_DIR / "bindings" / "python"
sys.path.insert(0, str(PYTHON_DIR / "build_backend"))
import libdpu_build  # noqa: E402


def cmake_version():
    text = (SOURCE_DIR / "CMakeLists.txt").read_text()
    return re.search(r"project\(libdpu\s+VERSION\s+([0-9.]+)", text).group(1)


def test_pip_has_nothing_to_download():
    with open(PYTHON_DIR / "pyproject.toml", "rb") as f:
        build_system = tomllib.load(f)["build-system"]
    assert build_system == {"requires": [], "build-backend": "libdpu_build",
                            "backend-path": ["build_backend"]}
    assert libdpu_build.get_requires_for_build_wheel() == []
    assert libdpu_build.get_requires_for_build_editable() == []
    assert libdpu_build.get_requires_for_build_sdist() == []


def test_metadata_carries_the_library_version(tmp_path):
    name = libdpu_build.prepare_metadata_for_build_wheel(str(tmp_path))
    assert name == f"libdpu-{cmake_version()}.dist-info"
    metadata = (tmp_path / name / "METADATA").read_text()
    assert "Name: libdpu\n" in metadata and f"Version: {cmake_version()}\n" in metadata
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    assert f"Tag: {tag}-{tag}-" in (tmp_path / name / "WHEEL").read_text()


def test_no_sdist_and_no_build_outside_the_repository(tmp_path, monkeypatch):
    with pytest.raises(libdpu_build.BuildError, match="no sdist"):
        libdpu_build.build_sdist(str(tmp_path))
    monkeypatch.setattr(libdpu_build, "ROOT", tmp_path)
    with pytest.raises(libdpu_build.BuildError, match="not a libdpu source tree"):
        libdpu_build.build_wheel(str(tmp_path))


def test_a_written_wheel_is_one_pip_installs(tmp_path):
    module = "libdpu" + sysconfig.get_config_var("EXT_SUFFIX")
    files = [(module, b"not really a module"), ("libdpu.pyi", b"# stubs\n")]
    name = libdpu_build._write_wheel(str(tmp_path), libdpu_build._project(), files)
    wheel = tmp_path / name
    with zipfile.ZipFile(wheel) as z:
        record = z.read(f"libdpu-{cmake_version()}.dist-info/RECORD").decode().splitlines()
        for line in record:
            path, digest, size = line.rsplit(",", 2)
            if not digest:  # RECORD itself
                continue
            data = z.read(path)
            want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert (digest, int(size)) == (f"sha256={want}", len(data)), path
        assert sorted(z.namelist()) == sorted([n for n, _ in files] + [
            f"libdpu-{cmake_version()}.dist-info/{f}"
            for f in ("METADATA", "WHEEL", "top_level.txt", "RECORD")])
    # pip accepts it: its tag, name and dist-info (pip uninstall, which reads RECORD, is checked
    # by scripts/check-pip-install.sh; one pip run here keeps the test short).
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input",
                        "install", "--no-index", "--no-deps", "--target", str(site), str(wheel)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (site / module).read_bytes() == b"not really a module"
    assert (site / "libdpu.pyi").read_bytes() == b"# stubs\n"
    assert (site / f"libdpu-{cmake_version()}.dist-info" / "RECORD").is_file()
