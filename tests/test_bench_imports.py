"""The benchmark modules import (speed itself is measured by `make bench`, not in tests)."""

from __future__ import annotations

import importlib

import pytest

MODULES = ("bench", "bench.common", "bench.data", "bench.fakeapi", "bench.bare",
           "bench.bench_slack", "bench.bench_queries", "bench.bench_fanout",
           "bench.bench_startup")


@pytest.mark.parametrize("name", MODULES)
def test_bench_module_imports(name: str) -> None:
    importlib.import_module(name)
