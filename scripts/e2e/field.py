#!/usr/bin/env python3
"""ddboot e2e helper: read one field of the JSON report a test app printed.

usage: field.py FILE PREFIX PATH

Finds the last line of FILE that starts with PREFIX (e.g. "E2E-PY "; "" for a file that is one
JSON line), parses the rest as JSON and prints the value at PATH (keys joined by "/", e.g.
env/DD_AGENT_HOST; "." is the whole object). Strings print as they are, everything else as
JSON (true, false, null, lists). Exits 1 when there is no such line or no such field.
"""

import json
import sys


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    path, prefix, key = argv[1:]
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [line[len(prefix):] for line in f if line.startswith(prefix)]
    except OSError as e:
        print(f"field.py: {e}", file=sys.stderr)
        return 1
    if not lines:
        return 1
    value = json.loads(lines[-1])
    if key != ".":
        for part in key.split("/"):
            if isinstance(value, dict) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                return 1
    print(value if isinstance(value, str) else json.dumps(value, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
