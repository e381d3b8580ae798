"""``python -m benchmarks [--smoke]``: every figure of docs/performance.md, measured side by side in
one run on this machine, each goal printed with PASS or FAIL.

Traffic goes to loopback only: the emulator is served in this process on 127.0.0.1 with injected
latency. ``--smoke`` runs every benchmark at a small size so that CI keeps them working; its
figures mean nothing.
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes, for CI: checks that every benchmark runs")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    parser.add_argument("--only", metavar="NAME", help="one benchmark: lifecycle, queries, sync, uploads or throughput")
    options = parser.parse_args(argv)

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    from . import measures

    setup_test_environment()
    database = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    sizes = measures.SMOKE if options.smoke else measures.FULL
    results = []
    try:
        with measures.emulator() as server:
            for benchmark in measures.BENCHMARKS:
                if options.only and benchmark.__name__ != options.only:
                    continue
                started = time.monotonic()
                results += benchmark(server, sizes)
                print(f"  ({benchmark.__name__}: {time.monotonic() - started:.1f} s)", file=sys.stderr)
    finally:
        connection.creation.destroy_test_db(database, verbosity=0)
    print(report(results, smoke=options.smoke))
    if options.json:
        with open(options.json, "w") as out:
            json.dump(results, out, indent=2)
    return 0


def report(results, *, smoke):
    lines = ["", f"django-liveness benchmarks ({'smoke size: figures mean nothing' if smoke else 'full size'})", ""]
    width = max(len(result["name"]) for result in results)
    for result in results:
        value = result["value"]
        shown = f"{value:.3g}{result.get('unit', '')}" if isinstance(value, float) else f"{value}{result.get('unit', '')}"
        spread = f"  (spread {result['spread']})" if result.get("spread") else ""
        verdict = ""
        if "goal" in result:
            verdict = f"  goal {result['goal']}: {'PASS' if result['passed'] else 'FAIL'}"
        lines.append(f"{result['name']:<{width}}  {shown}{spread}{verdict}")
    return "\n".join(lines)


def median_and_spread(samples):
    return statistics.median(samples), f"{min(samples):.3g}..{max(samples):.3g}"


if __name__ == "__main__":
    sys.exit(main())
