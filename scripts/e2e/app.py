"""ddboot e2e: a Python app that reports whether a tracer was loaded before its first line ran.

It must not import ddtrace itself before that check: 'ddtrace' in sys.modules at this point can
only come from ddtrace-run (its sitecustomize), i.e. from ddboot's injection. When the tracer is
there, it sends one span, "e2e.py", to the agent ddtrace is configured with (DD_AGENT_HOST).
"""

import json
import os
import sys

loaded = "ddtrace" in sys.modules
report = {
    "ddtrace_loaded_at_startup": loaded,
    "argv": sys.argv,
    "env": {k: os.environ.get(k) for k in ("DD_AGENT_HOST", "DD_ENV", "DD_SERVICE", "DD_VERSION", "DD_TRACE_AGENT_URL")},
}
if loaded:
    from ddtrace import tracer  # noqa: E402  (already imported by ddtrace-run)

    with tracer.trace("e2e.py", resource="ddboot-e2e-python") as span:
        span.set_tag("e2e.lang", "python")
        report["trace_id"] = str(span.trace_id)
    tracer.flush() if hasattr(tracer, "flush") else None
print("E2E-PY " + json.dumps(report), flush=True)
