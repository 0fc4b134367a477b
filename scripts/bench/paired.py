#!/usr/bin/env python3
"""Paired start time of two commands, interleaved run by run.

    paired.py PAIRS WARMUP BLOCKS -- BEFORE... ::: AFTER...

Runs BEFORE and AFTER alternately (A B, then B A, and so on: each pair swaps the order), PAIRS
times each after WARMUP pairs, every run through posix_spawn with stdout and stderr on /dev/null
and this process's environment, timed from the spawn to the reaped exit (what hyperfine -N
times). A load change on a shared machine then hits both commands alike, which whole blocks of
runs per command do not guarantee. Prints a Markdown table: one row per block of consecutive
pairs, then all runs pooled (medians, AFTER/BEFORE in bold), then the median of the per-pair
ratios. Exits 1 when a run exits non-zero.
"""

import os
import statistics
import sys
import time


def run(argv):
    devnull = [(os.POSIX_SPAWN_OPEN, fd, "/dev/null", os.O_WRONLY, 0) for fd in (1, 2)]
    start = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=devnull)
    _, status = os.waitpid(pid, 0)
    elapsed = time.perf_counter_ns() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"paired.py: {argv[0]} exited {os.waitstatus_to_exitcode(status)}")
    return elapsed / 1e6


def main():
    pairs, warmup, blocks = (int(a) for a in sys.argv[1:4])
    if sys.argv[4] != "--" or ":::" not in sys.argv:
        sys.exit(__doc__)
    sep = sys.argv.index(":::")
    before, after = sys.argv[5:sep], sys.argv[sep + 1 :]
    times = {"before": [], "after": []}
    for i in range(warmup + pairs):
        order = [("before", before), ("after", after)]
        if i % 2:
            order.reverse()
        for who, argv in order:
            ms = run(argv)
            if i >= warmup:
                times[who].append(ms)
    b, a = times["before"], times["after"]
    print("| block of pairs | before (median) | after (median) | after / before |")
    print("|---|---|---|---|")
    size = pairs // blocks
    for k in range(blocks):
        lo, hi = k * size, pairs if k == blocks - 1 else (k + 1) * size
        mb, ma = statistics.median(b[lo:hi]), statistics.median(a[lo:hi])
        print(f"| {lo + 1}–{hi} | {mb:.3f} ms | {ma:.3f} ms | {ma / mb:.3f} |")
    mb, ma = statistics.median(b), statistics.median(a)
    print(f"| all {pairs} runs each | {mb:.3f} ms | {ma:.3f} ms | **{ma / mb:.3f}** |")
    print()
    per_pair = statistics.median(x / y for x, y in zip(a, b))
    print(f"Median of the {pairs} per-pair ratios (after / before, same pair): {per_pair:.3f}.")


if __name__ == "__main__":
    main()
