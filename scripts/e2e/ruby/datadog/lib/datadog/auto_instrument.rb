# e2e stand-in for the datadog gem's lib/datadog/auto_instrument.rb: no gem registry is reachable
# here, so the real gem cannot be installed. It only records that it was required.
$ddboot_e2e_datadog = __FILE__
