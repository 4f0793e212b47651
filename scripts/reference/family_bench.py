"""Times the reference family generator (NumPy + SciPy) for `npm run bench -- family`.

Prints one JSON object: {"depth": D, "median_ms": ..., "count": N}.
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from family_fixture import family  # noqa: E402

depth = int(sys.argv[1]) if len(sys.argv) > 1 else 16
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
times, count = [], 0
for _ in range(runs):
    start = time.perf_counter()
    count = len(family(depth))
    times.append((time.perf_counter() - start) * 1000)
print(json.dumps({"depth": depth, "median_ms": statistics.median(times), "count": count}))
