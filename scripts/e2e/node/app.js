'use strict'
// ddboot e2e: a Node.js app that reports whether dd-trace was loaded before its first line ran
// (by NODE_OPTIONS=--require …/dd-trace/init.js, i.e. by ddboot's injection), then sends one
// span, "e2e.node", to the agent dd-trace is configured with (DD_AGENT_HOST).
const loadedModules = Object.keys(require.cache).filter((k) => k.includes('/dd-trace/'))
const loaded = global._ddtrace !== undefined
const report = {
  dd_trace_loaded_at_startup: loaded,
  dd_trace_module: loadedModules.find((k) => k.endsWith('/dd-trace/init.js')) || loadedModules[0] || null,
  argv: process.argv,
  cwd: process.cwd(),
  env: Object.fromEntries(
    ['DD_AGENT_HOST', 'DD_ENV', 'DD_SERVICE', 'DD_VERSION', 'NODE_OPTIONS', 'NODE_PATH'].map((k) => [k, process.env[k] ?? null])
  )
}
function done () {
  console.log('E2E-NODE ' + JSON.stringify(report))
}
if (loaded) {
  const tracer = global._ddtrace
  tracer.trace('e2e.node', { resource: 'ddboot-e2e-node' }, (span) => {
    span.setTag('e2e.lang', 'node')
    report.trace_id = span.context().toTraceId()
  })
  // dd-trace flushes on beforeExit too; flushing here makes the send explicit and awaited.
  const exporter = tracer._tracer && tracer._tracer._exporter
  if (exporter && typeof exporter.flush === 'function') {
    exporter.flush(done)
  } else {
    done()
  }
} else {
  done()
}
