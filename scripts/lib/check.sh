# Sourced by the end-to-end scripts: `check DESCRIPTION COMMAND...` runs COMMAND, prints
# "  ok   DESCRIPTION" or "  FAIL DESCRIPTION" and counts into $passed / $failed.
# Usage: . scripts/lib/check.sh   (from the repository root)
passed=0 failed=0
check() { # check DESCRIPTION CONDITION...
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "  ok   $what"; else failed=$((failed + 1)); echo "  FAIL $what"; fi
}
contains() { [[ $1 == *"$2"* ]]; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
