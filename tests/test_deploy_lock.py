"""The image installs from deploy/requirements.lock: it must match pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "deploy" / "requirements.lock"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>[^\s;\\]+)\s*(?:;\s*(?P<marker>[^\\]+?))?\s*\\?$")
IMAGE_PYTHON = {"python_version": "3.11", "python_full_version": "3.11.11",
                "implementation_name": "cpython", "platform_python_implementation": "CPython",
                "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"}


def _pins() -> dict[str, list[tuple[Version, Marker | None]]]:
    pins: dict[str, list[tuple[Version, Marker | None]]] = {}
    for line in LOCK.read_text().splitlines():
        found = PIN.match(line)
        if found:
            marker = Marker(found["marker"]) if found["marker"] else None
            pins.setdefault(canonicalize_name(found["name"]), []).append(
                (Version(found["version"]), marker))
    return pins


def _image_pin(pins: dict[str, list[tuple[Version, Marker | None]]], name: str) -> Version | None:
    for version, marker in pins.get(canonicalize_name(name), []):
        if marker is None or marker.evaluate(IMAGE_PYTHON):
            return version
    return None


def _project() -> dict[str, object]:
    data: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return data


def _runtime_requirements() -> list[Requirement]:
    deps = _project()["dependencies"]
    assert isinstance(deps, list)
    return [Requirement(dep) for dep in deps]


def test_the_lock_pins_every_dependency_within_its_range() -> None:
    pins = _pins()
    problems = []
    for requirement in _runtime_requirements():
        version = _image_pin(pins, requirement.name)
        if version is None:
            problems.append(f"{requirement.name} ontbreekt in {LOCK.name}")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement.name}=={version} valt buiten '{requirement.specifier}'")
    assert not problems, "; ".join(problems) + " — draai: make lock"


def test_the_lock_has_the_packages_of_each_extra() -> None:
    """`psycopg[binary]` needs psycopg-binary in the lock, `sqlalchemy[asyncio]` greenlet, …"""
    pins, missing = _pins(), []
    for requirement in _runtime_requirements():
        for extra in requirement.extras:
            try:
                declared = metadata(requirement.name).get_all("Requires-Dist") or []
            except PackageNotFoundError:
                pytest.skip(f"{requirement.name} is niet geïnstalleerd")
            for line in declared:
                needed = Requirement(line)
                if needed.marker and needed.marker.evaluate({**IMAGE_PYTHON, "extra": extra}) \
                        and not needed.marker.evaluate({**IMAGE_PYTHON, "extra": ""}) \
                        and _image_pin(pins, needed.name) is None:
                    missing.append(f"{needed.name} (voor {requirement.name}[{extra}])")
    assert not missing, "ontbreekt in de lock: " + ", ".join(missing)


def test_every_pin_has_hashes_and_the_build_backend_is_locked() -> None:
    text = LOCK.read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 4)[-1])
    for block in blocks:
        if PIN.match(block.splitlines()[0]):
            assert "--hash=sha256:" in block, block.splitlines()[0]
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    for line in build:
        requirement = Requirement(line)
        version = _image_pin(_pins(), requirement.name)
        assert version is not None and requirement.specifier.contains(version)


def test_holidays_is_pinned_to_a_tested_range() -> None:
    """Working days must not change with the build date: an upper bound on `holidays`."""
    holidays = next(r for r in _runtime_requirements() if r.name == "holidays")
    assert any(spec.operator == "<" for spec in holidays.specifier)
