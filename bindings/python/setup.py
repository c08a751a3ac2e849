"""Builds the libdpu extension module with CMake (see pyproject.toml and docs/python.md).

Environment:
  LIBDPU_BUILD_DIR   reuse this CMake build directory (an existing one is only built, not
                     reconfigured); default: a Release build under build/pip in the repository.
  LIBDPU_CMAKE_ARGS  extra arguments for the first configure, e.g. "-DDPU_WITH_DPDK=OFF".
  LIBDPU_JOBS        parallel build jobs (default 2).
"""
import os
import pathlib
import shlex
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = pathlib.Path(os.environ.get("LIBDPU_BUILD_DIR", ROOT / "build" / "pip")).resolve()
        if not (build_dir / "CMakeCache.txt").exists():
            args = ["cmake", "-S", str(ROOT), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
                    "-DDPU_BUILD_TESTS=OFF", "-DDPU_BUILD_BENCHMARKS=OFF",
                    "-DDPU_BUILD_EXAMPLES=OFF", "-DDPU_BUILD_DOCS=OFF", "-DDPU_WITH_PYTHON=ON",
                    f"-DPython3_EXECUTABLE={sys.executable}"]
            if shutil.which("ninja"):
                args += ["-G", "Ninja"]
            args += shlex.split(os.environ.get("LIBDPU_CMAKE_ARGS", ""))
            subprocess.run(args, check=True)
        subprocess.run(["cmake", "--build", str(build_dir), "--target", "dpu_python",
                        "-j", os.environ.get("LIBDPU_JOBS", "2")], check=True)
        module_dir = build_dir / "bindings" / "python" / "module"
        built = sorted(module_dir.glob("libdpu*.so"))
        if not built:
            raise RuntimeError(f"no libdpu module in {module_dir}")
        target = pathlib.Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built[-1], target)
        # Type stubs next to the module, for editors and type checkers.
        shutil.copyfile(HERE / "libdpu.pyi", target.parent / "libdpu.pyi")


setup(ext_modules=[Extension("libdpu", sources=[])], packages=[], py_modules=[],
      cmdclass={"build_ext": CMakeBuild})
