#!/usr/bin/env bash
# Reruns every calibration study recorded in CALIBRATION.md: the size and power of the model
# comparison (stable against normal, Student-t, Laplace; Hill against stable), the size, power
# and label error rates of the MSD exponent and crossover test, and the coverage, size and power
# of the regime-change estimate. Each prints its markdown tables on stdout. About 1.5 hours on
# 2 cores (model comparison ~25 min, MSD ~20 min, regime change ~45 min).
#
#   scripts/calibrate.sh                 # all three
#   scripts/calibrate.sh msd regime      # some of them (vuong, msd, regime)
set -euo pipefail
cd "$(dirname "$0")/.."
studies=("$@")
[ ${#studies[@]} -eq 0 ] && studies=(vuong msd regime)
for s in "${studies[@]}"; do
  case "$s" in
    vuong | msd | regime) ;;
    *) echo "unknown study '$s' (vuong, msd, regime)" >&2; exit 2 ;;
  esac
  echo "## calibration_$s" >&2
  cargo test -p anodiff-core --test "calibration_$s" -- --ignored --nocapture --test-threads 1
done
