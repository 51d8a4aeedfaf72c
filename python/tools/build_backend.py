"""A PEP 517 build backend in the standard library only.

The package has no dependencies, and the machines it is installed on may
have no package index, nor setuptools' ``wheel`` dependency. This backend
builds the pure-Python wheel (and sdist, and PEP 660 editable wheel) itself,
from the ``[project]`` table of ``pyproject.toml``, so ``pip install ./python``
works offline: it needs nothing installed first.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile
from typing import Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "prompt_registry"


def _project() -> Dict[str, str]:
    """The string fields of [project] in pyproject.toml (tomllib when there is one)."""
    path = os.path.join(ROOT, "pyproject.toml")
    try:
        import tomllib  # Python 3.11+

        with open(path, "rb") as f:
            table = tomllib.load(f)["project"]
        fields = {k: v for k, v in table.items() if isinstance(v, str)}
        if isinstance(table.get("license"), dict):
            fields["license"] = table["license"].get("text", "")
        return fields
    except ImportError:
        fields, section = {}, None
        with open(path, encoding="utf-8") as f:
            for line in f:
                header = re.match(r"^\[(.+)\]\s*$", line)
                if header:
                    section = header.group(1)
                    continue
                m = re.match(r'^(\w[\w-]*)\s*=\s*"(.*)"\s*$', line)
                if section == "project" and m:
                    fields[m.group(1)] = m.group(2)
                m = re.match(r'^license\s*=\s*\{\s*text\s*=\s*"(.*)"\s*\}\s*$', line)
                if section == "project" and m:
                    fields["license"] = m.group(1)
        return fields


def _names() -> Tuple[str, str, str]:
    p = _project()
    dist = re.sub(r"[-_.]+", "_", p["name"]).lower()
    return p["name"], p["version"], dist


def _metadata() -> str:
    p = _project()
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {p['name']}",
        f"Version: {p['version']}",
        f"Summary: {p.get('description', '')}",
        f"Requires-Python: {p.get('requires-python', '>=3.9')}",
        f"License: {p.get('license', '')}",
        "Classifier: Programming Language :: Python :: 3",
        "Classifier: Typing :: Typed",
    ]
    readme = os.path.join(ROOT, p.get("readme", "README.md"))
    if os.path.exists(readme):
        lines.append("Description-Content-Type: text/markdown")
        with open(readme, encoding="utf-8") as f:
            return "\n".join(lines) + "\n\n" + f.read()
    return "\n".join(lines) + "\n"


def _package_files() -> List[str]:
    files = []
    for folder, dirs, names in os.walk(os.path.join(ROOT, PACKAGE)):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in names:
            if name.endswith((".py", ".typed")):
                files.append(os.path.relpath(os.path.join(folder, name), ROOT))
    return sorted(files)


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _write_wheel(directory: str, contents: List[Tuple[str, bytes]]) -> str:
    _, version, dist = _names()
    info = f"{dist}-{version}.dist-info"
    contents = contents + [
        (f"{info}/METADATA", _metadata().encode("utf-8")),
        (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: prompt-registry build_backend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        (f"{info}/top_level.txt", f"{PACKAGE}\n".encode()),
    ]
    record = "".join(f"{name},{_digest(data)},{len(data)}\n" for name, data in contents) + f"{info}/RECORD,,\n"
    filename = f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, filename), "w", zipfile.ZIP_DEFLATED) as whl:
        for name, data in contents + [(f"{info}/RECORD", record.encode())]:
            whl.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return filename


def get_requires_for_build_wheel(config_settings: Optional[dict] = None) -> List[str]:
    return []


def get_requires_for_build_sdist(config_settings: Optional[dict] = None) -> List[str]:
    return []


def get_requires_for_build_editable(config_settings: Optional[dict] = None) -> List[str]:
    return []


def build_wheel(wheel_directory: str, config_settings: Optional[dict] = None, metadata_directory: Optional[str] = None) -> str:
    files = []
    for path in _package_files():
        with open(os.path.join(ROOT, path), "rb") as f:
            files.append((path.replace(os.sep, "/"), f.read()))
    return _write_wheel(wheel_directory, files)


def build_editable(wheel_directory: str, config_settings: Optional[dict] = None, metadata_directory: Optional[str] = None) -> str:
    # A .pth file puts this folder on sys.path: edits take effect without reinstalling.
    return _write_wheel(wheel_directory, [(f"__editable__.{PACKAGE}.pth", (ROOT + "\n").encode())])


def build_sdist(sdist_directory: str, config_settings: Optional[dict] = None) -> str:
    _, version, dist = _names()
    base = f"{dist}-{version}"
    filename = f"{base}.tar.gz"
    members = ["pyproject.toml", "README.md", "tools/build_backend.py"] + _package_files()
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for path in members:
            tar.add(os.path.join(ROOT, path), arcname=f"{base}/{path}")
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        data = _metadata().encode("utf-8")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return filename
