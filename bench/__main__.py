"""`python -m bench [name ...]`: run the benchmarks (all, or those whose name contains one of
the words), print the machine's load before and after, every figure as a ratio against its
floor with its absolute values, and the elapsed time. BENCH_QUICK=1: small sizes, to check
that the harness runs end to end; BENCH_FULL=1 (`make bench-full`): adds 500.000 cases."""

from __future__ import annotations

import importlib
import logging
import sys
import time

from bench.common import load_text, mode, print_summary

ORDER = ("bench_startup", "bench_slack", "bench_fanout", "bench_queries")


def main() -> None:
    started = time.monotonic()
    # The dispatcher runs in this process: its retry warnings (429s) are counted in the
    # figures instead of printed one by one.
    logging.basicConfig(level=logging.ERROR)
    wanted = sys.argv[1:]
    print(f"regiebot-benchmarks ({mode()}); bij de start: {load_text()}", flush=True)
    for name in ORDER:
        if wanted and not any(w in name for w in wanted):
            continue
        print(f"\n=== {name} ===", flush=True)
        begun = time.monotonic()
        importlib.import_module(f"bench.{name}").main()
        print(f"  ({name}: {time.monotonic() - begun:.0f} s; {load_text()})", flush=True)
    print_summary()
    minutes, seconds = divmod(int(time.monotonic() - started), 60)
    print(f"\nklaar in {minutes} min {seconds:02d} s; aan het eind: {load_text()}", flush=True)


if __name__ == "__main__":
    main()
