<?php
// ddboot e2e: served by php-fpm over FastCGI. Reports what the worker sees of the Datadog
// settings: environment variables (which reach a worker under clear_env=yes only through the
// pool's env[] lines) and INI settings (php-fpm -d, which reach every worker).
header('Content-Type: application/json');
$names = ['DD_AGENT_HOST', 'DD_ENV', 'DD_SERVICE', 'DD_VERSION', 'DD_TRACE_AGENT_URL', 'DD_DOGSTATSD_URL'];
$env = [];
foreach ($names as $n) { $env[$n] = getenv($n); }
$ini = [];
foreach (['datadog.agent_host', 'datadog.env', 'datadog.service', 'datadog.version', 'datadog.trace.agent_url', 'datadog.dogstatsd_url'] as $n) {
    $ini[$n] = get_cfg_var($n);
}
echo 'E2E-PHP ' . json_encode([
    'sapi' => php_sapi_name(),
    'pid' => getmypid(),
    'getenv' => $env,
    'get_cfg_var' => $ini,
    'clear_env_probe' => getenv('E2E_FPM_MARKER'),
]) . "\n";
