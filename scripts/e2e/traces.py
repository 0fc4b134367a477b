#!/usr/bin/env python3
"""ddboot e2e helper: wait until Datadog's APM test agent has received a given span.

usage: traces.py BASE_URL SPAN_NAME [TRACE_ID] [TIMEOUT_S]

Polls BASE_URL/test/session/traces (loopback only; proxies are never used) until a span named
SPAN_NAME arrives (and, when TRACE_ID is given, whose trace id matches its low 64 bits: tracers
generate 128-bit ids and send the high half as the _dd.p.tid tag). Prints the span's key fields
as one JSON object and exits 0; after TIMEOUT_S (default 15) prints what it saw and exits 1.
"""

import json
import sys
import time
import urllib.request

KEYS = ("name", "service", "resource", "trace_id", "span_id")
META = ("env", "version", "language", "e2e.lang", "_dd.p.tid")


def fetch(url):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=2) as resp:
        return json.loads(resp.read().decode() or "[]")


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    base, name = argv[1].rstrip("/"), argv[2]
    want_id = int(argv[3]) & (2**64 - 1) if len(argv) > 3 and argv[3].isdigit() else None
    timeout = float(argv[4]) if len(argv) > 4 else 15.0
    deadline = time.monotonic() + timeout
    note = "nothing yet"
    while True:
        try:
            traces = fetch(base + "/test/session/traces")
            names = sorted({str(s.get("name")) for t in traces for s in t})
            note = f"{len(traces)} trace(s), span names {names}"
        except Exception as e:  # the agent may be busy decoding; try again until the deadline
            traces, note = [], f"error: {e}"
        for trace in traces:
            for span in trace:
                if span.get("name") != name:
                    continue
                if want_id is not None and int(span.get("trace_id", -1)) != want_id:
                    note = f"span {name!r} with another trace id {span.get('trace_id')}"
                    continue
                out = {k: span.get(k) for k in KEYS}
                meta = span.get("meta") or {}
                out["meta"] = {k: meta[k] for k in META if k in meta}
                print(json.dumps(out, sort_keys=True))
                return 0
        if time.monotonic() >= deadline:
            print(json.dumps({"error": f"no span {name!r} within {timeout}s", "seen": note}))
            return 1
        time.sleep(0.2)

if __name__ == "__main__":
    sys.exit(main(sys.argv))
