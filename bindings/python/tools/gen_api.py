#!/usr/bin/python3
"""Generates the API reference of the libdpu Python module from its docstrings.

Two outputs, both derived from the imported module itself:
  * bindings/python/libdpu.pyi -- type stubs for editors and type checkers;
  * the reference section of docs/python.md (everything after MARKER).

  gen_api.py --module-dir DIR --write    rewrite both files
  gen_api.py --module-dir DIR --check    fail (exit 1) when either file is out of date, or when
                                          a public name of the module has no docstring
"""

import argparse
import difflib
import enum
import importlib
import inspect
import os
import re
import sys

MARKER = "<!-- Generated from the module's docstrings by bindings/python/tools/gen_api.py; do not edit below. -->"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
STUB = os.path.join(ROOT, "bindings", "python", "libdpu.pyi")
DOC = os.path.join(ROOT, "docs", "python.md")

TYPE_MAP = {"handle": "Any", "object": "Any", "function": "Callable[..., Any]",
            "capsule": "Any", "iterable": "Iterable[Any]", "iterator": "Iterator[Any]",
            "sequence": "Sequence[Any]", "kwargs": "Any", "args": "Any", "tuple": "tuple",
            "dict": "dict", "int_": "int", "str_": "str"}


def public(obj):
    return [n for n in sorted(vars(obj)) if not n.startswith("_")]


def is_pybind_enum(cls):
    return isinstance(cls, type) and hasattr(cls, "__members__") and hasattr(cls, "__entries")


def clean_type(t):
    t = t.strip().replace("libdpu.", "")
    return re.sub(r"\b(handle|object|function|capsule|iterable|iterator|sequence|int_|str_)\b",
                  lambda m: TYPE_MAP[m.group(1)], t)


def split_top(s):
    """Splits s at commas outside brackets and quotes."""
    parts, depth, cur, quote = [], 0, "", None
    for ch in s:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


SIG_RE = re.compile(r"^(\w*)\((.*)\)(?:\s*->\s*(.+))?$")


def signatures(func):
    """[(name, params, ret)] of a pybind11 function from its docstring, and the doc text."""
    doc = func.__doc__ or ""
    lines = doc.strip("\n").split("\n")
    sigs, text = [], []
    if len(lines) > 1 and lines[1].strip() == "Overloaded function.":
        body = "\n".join(lines[2:])
        for block in re.split(r"\n\d+\. ", "\n" + body.strip("\n")):
            block = block.strip("\n")
            if not block:
                continue
            first, _, rest = block.partition("\n")
            m = SIG_RE.match(first.strip())
            if m:
                sigs.append(m.groups())
                if rest.strip():
                    text.append(rest.strip())
        return sigs, "\n\n".join(dict.fromkeys(text))
    m = SIG_RE.match(lines[0].strip()) if lines else None
    if m:
        sigs.append(m.groups())
        return sigs, "\n".join(lines[1:]).strip()
    return sigs, doc.strip()


def stub_params(params, method):
    out = []
    for p in split_top(params):
        if p in ("*", "/") or p.startswith("**") or (p.startswith("*") and ":" not in p):
            out.append(p.split(":")[0])
            continue
        name, _, rest = p.partition(":")
        typ, eq, _default = rest.partition("=")
        name = name.strip()
        if name.startswith("*"):
            out.append(f"{name}: {clean_type(typ)}")
            continue
        s = f"{name}: {clean_type(typ)}" if typ.strip() else name
        if eq:
            s += " = ..."
        out.append(s)
    if method and out and out[0].startswith("self"):
        out[0] = "self"
    return ", ".join(out)


def md_text(text):
    """Doc text for docs/python.md, which Doxygen also reads: '@' and '\\' start commands there."""
    return text.replace("\\", "\\\\").replace("@", "\\@")


def first_line(text):
    return text.strip().split("\n")[0] if text.strip() else ""


def prop_type(prop):
    fget = getattr(prop, "fget", None)
    if fget is None:
        return "Any"
    sigs, _ = signatures(fget)
    return clean_type(sigs[0][2]) if sigs and sigs[0][2] else "Any"


class Missing(Exception):
    pass


def require_doc(missing, qualname, text):
    if not (text or "").strip():
        missing.append(qualname)


def func_stub(name, func, indent, method, missing, qual):
    sigs, text = signatures(func)
    require_doc(missing, qual, text)
    lines = []
    for _, params, ret in sigs:
        if len(sigs) > 1:
            lines.append(f"{indent}@overload")
        if isinstance(func, staticmethod) or (method and not params.startswith("self")):
            lines.append(f"{indent}@staticmethod")
        ret_s = clean_type(ret) if ret else "None"
        if name == "__init__":
            ret_s = "None"
        lines.append(f"{indent}def {name}({stub_params(params, method)}) -> {ret_s}: ...")
    if not sigs and name != "__init__":
        lines.append(f"{indent}def {name}(*args: Any, **kwargs: Any) -> Any: ...")
    return lines


def enum_members(cls):
    entries = getattr(cls, "__entries")
    return [(k, v[1] or "") for k, v in entries.items()]


SPECIAL = ("__init__", "__str__", "__len__", "__iter__", "__contains__", "__int__", "__bool__",
           "__eq__", "__lt__", "__le__", "__gt__", "__ge__", "__hash__")


def class_members(cls):
    out = []
    for n, v in vars(cls).items():
        if n.startswith("_") and n not in SPECIAL:
            continue
        out.append((n, v))
    order = {n: i for i, n in enumerate(SPECIAL)}
    return sorted(out, key=lambda kv: (kv[0] not in order, order.get(kv[0], 0), kv[0]))


def generate(mod):
    missing = []
    stub = ['"""Type stubs of the libdpu module (generated by bindings/python/tools/gen_api.py)."""',
            "", "from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, "
            "Sequence, Tuple, Union, overload", "import datetime", ""]
    md = [MARKER, "", "## API reference", ""]
    require_doc(missing, "libdpu", mod.__doc__)
    names = public(mod)
    classes = [n for n in names if isinstance(getattr(mod, n), type)]
    funcs = [n for n in names if callable(getattr(mod, n)) and n not in classes]
    err_base = mod.Error

    md += ["### Functions", ""]
    for n in funcs:
        f = getattr(mod, n)
        stub += func_stub(n, f, "", False, missing, n)
        sigs, text = signatures(f)
        for _, params, ret in sigs:
            md.append(f"- `{n}({stub_params(params, False)})" + (f" -> {clean_type(ret)}`" if ret else "`"))
        md.append(f"  {md_text(text).replace(chr(10), ' ')}" if text else "")
        md.append("")
    stub.append("")

    for n in classes:
        cls = getattr(mod, n)
        doc = inspect.cleandoc(cls.__doc__ or "")
        if is_pybind_enum(cls):
            doc = doc.split("\n\nMembers:")[0].split("Members:")[0].strip()
        require_doc(missing, n, doc)
        if issubclass(cls, BaseException):
            bases = ", ".join(b.__name__ for b in cls.__bases__)
            stub += [f"class {n}({bases}):", f'    """{first_line(doc)}"""']
            if cls is err_base:
                stub += ["    message: str", "    code: StatusCode",
                         "    operation_index: Optional[int]",
                         "    def __init__(self, message: str = ..., code: Optional[StatusCode] = ...,"
                         " operation_index: Optional[int] = ...) -> None: ..."]
            stub.append("")
            md += [f"### `{n}({bases})`", "", md_text(doc), ""]
            continue
        base = cls.__bases__[0]
        base_s = f"({base.__name__})" if base is not object and base.__module__ == "libdpu" else ""
        stub += [f"class {n}{base_s}:", f'    """{first_line(doc)}"""']
        md += [f"### `{n}`" + (f" ({base.__name__})" if base_s else ""), "", md_text(doc), ""]
        if is_pybind_enum(cls):
            for k, d in enum_members(cls):
                require_doc(missing, f"{n}.{k}", d)
                stub.append(f"    {k}: {n}")
                md.append(f"- `{n}.{k}`: {md_text(d)}")
            stub += ["    @property", "    def name(self) -> str: ...", "    @property",
                     "    def value(self) -> int: ...", "    def __init__(self, value: int) -> None: ...",
                     "    def __int__(self) -> int: ...", ""]
            md.append("")
            continue
        for mn, mv in class_members(cls):
            qual = f"{n}.{mn}"
            if isinstance(mv, property):
                require_doc(missing, qual, mv.__doc__)
                stub += ["    @property", f"    def {mn}(self) -> {prop_type(mv)}: ..."]
                if mv.fset is not None:
                    stub += [f"    @{mn}.setter", f"    def {mn}(self, value: Any) -> None: ..."]
                ro = "" if mv.fset is not None else " (read-only)"
                md.append(f"- `{mn}: {prop_type(mv)}`{ro}: {md_text((mv.__doc__ or '').strip())}")
            elif isinstance(mv, staticmethod) or callable(mv):
                f = mv.__func__ if isinstance(mv, staticmethod) else mv
                if mn == "__init__" and not signatures(f)[0]:
                    stub.append("    def __init__(self, *args: Any, **kwargs: Any) -> None: ...")
                    continue
                if mn in SPECIAL and mn != "__init__":
                    stub += func_stub(mn, f, "    ", True, [], qual)
                    continue
                stub += func_stub(mn, f, "    ", True, missing, qual)
                sigs, text = signatures(f)
                for _, params, ret in sigs:
                    ps = stub_params(params, True)
                    ps = ps[len("self, "):] if ps.startswith("self, ") else ("" if ps == "self" else ps)
                    shown = n if mn == "__init__" else mn
                    md.append(f"- `{shown}({ps})" + (f" -> {clean_type(ret)}`" if ret and mn != "__init__" else "`"))
                md.append(f"  {md_text(text).replace(chr(10), ' ')}")
        stub.append("")
        md.append("")
    return "\n".join(stub).rstrip() + "\n", "\n".join(md).rstrip() + "\n", missing


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--module-dir", required=True)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    sys.path.insert(0, a.module_dir)
    mod = importlib.import_module("libdpu")
    stub, ref, missing = generate(mod)
    with open(DOC) as f:
        doc = f.read()
    if MARKER not in doc:
        print(f"{DOC}: marker line missing", file=sys.stderr)
        return 1
    new_doc = doc.split(MARKER)[0] + ref
    if a.write:
        with open(STUB, "w") as f:
            f.write(stub)
        with open(DOC, "w") as f:
            f.write(new_doc)
    rc = 0
    if missing:
        print("public names without a docstring:\n  " + "\n  ".join(missing), file=sys.stderr)
        rc = 1
    if a.check:
        for path, want in ((STUB, stub), (DOC, new_doc)):
            with open(path) as f:
                have = f.read()
            if have != want:
                sys.stderr.writelines(difflib.unified_diff(
                    have.splitlines(True), want.splitlines(True), path, "generated", n=1))
                print(f"{path} is out of date: run {os.path.relpath(__file__, ROOT)} "
                      f"--module-dir DIR --write", file=sys.stderr)
                rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
