# ddboot e2e: a Ruby app that reports whether Datadog's auto-instrumentation was required before
# its first line ran. The stand-in gem (scripts/e2e/ruby/datadog) sets $ddboot_e2e_datadog when
# RUBYOPT's -r loads it, which only ddboot's injection can have done.
require 'json'

report = {
  'datadog_loaded_at_startup' => !$ddboot_e2e_datadog.nil?,
  'datadog_file' => $ddboot_e2e_datadog,
  'bundler' => !defined?(Bundler).nil?,
  'argv' => ARGV,
  'env' => %w[DD_AGENT_HOST DD_ENV DD_SERVICE DD_VERSION RUBYOPT].to_h { |k| [k, ENV[k]] },
}
puts "E2E-RB #{JSON.generate(report)}"
