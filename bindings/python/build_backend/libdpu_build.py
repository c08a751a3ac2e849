"""The PEP 517 build backend of the libdpu Python bindings, kept in the repository.

It builds the pybind11 module with CMake from the repository this directory belongs to and packs it
into a wheel, using nothing but the Python standard library: pip needs no build requirement, so
`pip install ./bindings/python` works offline (build isolation on or off). The C++ side needs the
system's build tools and libraries (Debian: scripts/install-deps.sh). See docs/python.md.

Settings, from the environment or from pip's --config-settings KEY=VALUE (which wins):
  LIBDPU_BUILD_DIR   / build-dir   : the CMake build directory; one that is already configured is
                                     only built. Default: build/pip in the repository.
  LIBDPU_CMAKE_ARGS  / cmake-args  : extra arguments for the first configure (shell words).
  LIBDPU_JOBS        / jobs        : parallel build jobs; default CMAKE_BUILD_PARALLEL_LEVEL, else 2.

Hooks: build_wheel, build_editable (a .pth file pointing at the module in the build directory),
prepare_metadata_for_build_wheel/_editable and the get_requires_* hooks (all empty). build_sdist
refuses: the bindings cannot be built apart from the library's sources.
"""
import base64
import hashlib
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import zipfile

try:
    import tomllib  # Python >= 3.11
except ModuleNotFoundError:  # Python < 3.11: the tomli package stands in
    try:
        import tomli as tomllib
    except ModuleNotFoundError as e:
        raise RuntimeError("libdpu_build reads pyproject.toml with tomllib (Python >= 3.11) or "
                           "tomli (Debian: python3-tomli)") from e

HERE = pathlib.Path(__file__).resolve().parent.parent  # bindings/python
ROOT = HERE.parent.parent  # the repository


class BuildError(RuntimeError):
    """A build step failed; the message says which and what to do."""


def _project():
    if not (ROOT / "include" / "dpu").is_dir() or not (ROOT / "CMakeLists.txt").is_file():
        raise BuildError(f"{ROOT} is not a libdpu source tree: build from the repository "
                         "(pip install ./bindings/python), not from a copy of bindings/python")
    with open(HERE / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    # The wheel carries the library's version: it must match project(libdpu VERSION ...).
    cmake = (ROOT / "CMakeLists.txt").read_text()
    m = re.search(r"project\(libdpu\s+VERSION\s+([0-9.]+)", cmake)
    if m and m.group(1) != project["version"]:
        raise BuildError(f"pyproject.toml version {project['version']} differs from the "
                         f"CMakeLists.txt project VERSION {m.group(1)}")
    return project


def _dist_info_name(project):
    return f"{project['name']}-{project['version']}.dist-info"


def _metadata(project):
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}",
             f"Version: {project['version']}", f"Summary: {project['description']}"]
    if "requires-python" in project:
        lines.append(f"Requires-Python: {project['requires-python']}")
    if "license" in project and "text" in project["license"]:
        lines.append(f"License: {project['license']['text']}")
    lines += [f"Classifier: {c}" for c in project.get("classifiers", [])]
    body = ""
    if "readme" in project:
        lines.append("Description-Content-Type: text/markdown")
        body = "\n" + (HERE / project["readme"]).read_text()
    return "\n".join(lines) + "\n" + body


def _tag():
    """The wheel tag of the running interpreter: the module is built for it."""
    if sys.implementation.name != "cpython":
        raise BuildError(f"only CPython is supported, not {sys.implementation.name}")
    py = f"cp{sys.version_info.major}{sys.version_info.minor}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"{py}-{py}-{platform}"


def _wheel_file(tag):
    return ("Wheel-Version: 1.0\nGenerator: libdpu_build\nRoot-Is-Purelib: false\n"
            f"Tag: {tag}\n")


def _setting(config_settings, key, env, default=None):
    if config_settings and key in config_settings:
        return config_settings[key]
    return os.environ.get(env, default)


def _build_module(config_settings):
    """Configures (once) and builds the dpu_python target; returns (module directory, suffix)."""
    cmake = shutil.which("cmake")
    if cmake is None:
        raise BuildError("cmake not found (Debian: apt-get install cmake; see "
                         "scripts/install-deps.sh)")
    build_dir = pathlib.Path(_setting(config_settings, "build-dir", "LIBDPU_BUILD_DIR",
                                      str(ROOT / "build" / "pip")))
    if not build_dir.is_absolute():
        build_dir = ROOT / build_dir
    jobs = _setting(config_settings, "jobs", "LIBDPU_JOBS",
                    os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "2"))
    if not (build_dir / "CMakeCache.txt").exists():
        args = [cmake, "-S", str(ROOT), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
                "-DDPU_BUILD_TESTS=OFF", "-DDPU_BUILD_BENCHMARKS=OFF", "-DDPU_BUILD_EXAMPLES=OFF",
                "-DDPU_BUILD_DOCS=OFF", "-DDPU_WITH_PYTHON=ON",
                f"-DPython3_EXECUTABLE={sys.executable}"]
        if shutil.which("ninja"):
            args += ["-G", "Ninja"]
        args += shlex.split(_setting(config_settings, "cmake-args", "LIBDPU_CMAKE_ARGS", ""))
        _run(args, "configure")
    _run([cmake, "--build", str(build_dir), "--target", "dpu_python", "-j", str(jobs)], "build")
    module_dir = build_dir / "bindings" / "python" / "module"
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    if not (module_dir / f"libdpu{suffix}").is_file():
        raise BuildError(f"no libdpu{suffix} in {module_dir}: was {build_dir} configured for "
                         f"another Python than {sys.executable}?")
    return module_dir, suffix


def _run(args, what):
    print("libdpu_build:", shlex.join(args), flush=True)
    r = subprocess.run(args)
    if r.returncode != 0:
        raise BuildError(f"CMake {what} failed (exit {r.returncode}): {shlex.join(args)}")


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _write_wheel(wheel_directory, project, files):
    """files: list of (name in the wheel, bytes); adds the dist-info and returns the file name."""
    tag = _tag()
    dist_info = _dist_info_name(project)
    files = list(files) + [
        (f"{dist_info}/METADATA", _metadata(project).encode()),
        (f"{dist_info}/WHEEL", _wheel_file(tag).encode()),
        (f"{dist_info}/top_level.txt", b"libdpu\n"),
    ]
    record_name = f"{dist_info}/RECORD"
    record = "\n".join([_record_line(n, d) for n, d in files] + [f"{record_name},,"]) + "\n"
    name = f"{project['name']}-{project['version']}-{tag}.whl"
    path = pathlib.Path(wheel_directory) / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in files + [(record_name, record.encode())]:
            info = zipfile.ZipInfo(n, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if n.endswith(".so") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, d)
    return name


def _prepare_metadata(metadata_directory):
    project = _project()
    dist_info = pathlib.Path(metadata_directory) / _dist_info_name(project)
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_text(_metadata(project))
    (dist_info / "WHEEL").write_text(_wheel_file(_tag()))
    (dist_info / "top_level.txt").write_text("libdpu\n")
    return dist_info.name


# ---- PEP 517 / PEP 660 hooks -------------------------------------------------------------------

def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    return _prepare_metadata(metadata_directory)


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    return _prepare_metadata(metadata_directory)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    project = _project()
    module_dir, suffix = _build_module(config_settings)
    module = f"libdpu{suffix}"
    files = [(module, (module_dir / module).read_bytes()),
             ("libdpu.pyi", (HERE / "libdpu.pyi").read_bytes())]
    return _write_wheel(wheel_directory, project, files)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # The wheel holds only a .pth naming the build tree's module directory: rebuilding the
    # dpu_python target there (cmake --build DIR --target dpu_python) updates the installed module.
    project = _project()
    module_dir, _ = _build_module(config_settings)
    files = [("libdpu_editable.pth", (str(module_dir.resolve()) + "\n").encode())]
    return _write_wheel(wheel_directory, project, files)


def build_sdist(sdist_directory, config_settings=None):
    raise BuildError("libdpu's Python bindings have no sdist: they are built from the whole "
                     "repository (pip install ./bindings/python)")
