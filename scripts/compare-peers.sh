#!/usr/bin/env bash
# Runs every peer comparison of BENCHMARKS.md on this machine, each on the same data in one
# process tree, and prints one line per comparison with both figures and their ratio.
#
#   scripts/compare-peers.sh [--with-torch] [--quick]
#
# It installs the peers with pip into a venv of its own (PEERS_VENV, default ./.peers-venv;
# gitignored): numpy, scipy, tidynamics, piecewise-regression, mpmath, and with --with-torch
# PyTorch (a large download, for the training-step comparison). Our side runs as criterion
# benchmarks (`cargo bench`, release profile); --quick shortens their measurement time.
#
# Comparisons:
#   stable pdf         benches/stable_pdf.rs          vs scipy.stats.levy_stable.pdf   (same 1,000 points)
#   stable fit         `anodiff stable fit`           vs scipy levy_stable.fit         (same 200 values)
#   MSD                benches/msd.rs (d = 20,000)    vs tidynamics.msd                (same .npy)
#   MSD, whole process `anodiff msd` (d = 200,000)  vs tidynamics.msd                (same .npy)
#   crossover fit      benches/segmented.rs           vs piecewise-regression          (same 200 points)
#   Lanczos            benches/lanczos.rs products    vs scipy eigsh (ARPACK) products (same operator)
#   training step      benches/train_step.rs          vs PyTorch CPU                   (ResNet-20, batch 128)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

with_torch=0
quick=0
for a in "$@"; do
    case $a in
    --with-torch) with_torch=1 ;;
    --quick) quick=1 ;;
    *) echo "unknown option $a (use --with-torch, --quick)" >&2; exit 2 ;;
    esac
done
venv=${PEERS_VENV:-.peers-venv}
if [[ ! -x $venv/bin/python ]]; then
    python3 -m venv "$venv"
fi
py=$venv/bin/python
"$py" -m pip install -q numpy scipy tidynamics piecewise-regression mpmath >&2
if ((with_torch)); then "$py" -m pip install -q torch >&2; fi

crit=(--warm-up-time 2 --measurement-time 10)
((quick)) && crit=(--warm-up-time 1 --measurement-time 3)
# ns per iteration of one criterion benchmark, from its bencher-format line.
bench_ns() { # BENCH FILTER
    cargo bench -q --bench "$1" -- "$2" --output-format bencher "${crit[@]}" 2>/dev/null |
        awk '/ns\/iter/ { for (i = 1; i < NF; i++) if ($(i + 1) == "ns/iter") { gsub(",", "", $i); print $i; exit } }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }

echo "machine: $(nproc) cores, $(uname -m), $(date -u +%Y-%m-%d)" >&2
cargo build -q --release --bin anodiff

# the benchmark's easy case, the slowest one (the thin side of beta = 1) and one next to
# alpha = 1 (every point needs the full integral)
for law in "1.5 0.5" "1.9 1" "1.0005 0.5"; do
    read -r a b <<<"$law"
    ns=$(bench_ns stable_pdf "pdf_s0_std a$a b${b} x1000")
    ours=$(awk -v ns="$ns" 'BEGIN { printf "%.0f", 1000 / (ns * 1e-9) }')
    peer=$("$py" scripts/peer_stable_pdf.py 2 "$a" "$b" | awk '{ for (i = 1; i <= NF; i++) if ($(i + 1) == "evaluations/s") print $i }')
    echo "stable pdf (alpha $a, beta $b, 1000 points): anodiff ${ours}/s, scipy ${peer}/s, ratio $(ratio "$ours" "$peer")x"
done

line=$("$py" scripts/peer_scipy_fit.py 200 1 | tail -n 1)
echo "stable fit (n = 200): $line"

bench_ns msd "anodiff_fft_f32_mmap_d20000" >/dev/null # creates the data files
ns=$(bench_ns msd "anodiff_fft_f32_mmap_d20000")
peer=$("$py" scripts/peer_msd.py --d 20000 --k 100 --anodiff target/release/anodiff |
    "$py" -c 'import json,sys
for l in sys.stdin:
    l = l.strip()
    if l.startswith("{") and "seconds_min" in l: print(json.loads(l)["seconds_min"])')
ours=$(awk -v ns="$ns" 'BEGIN { printf "%.4f", ns * 1e-9 }')
echo "MSD (T = 1000, d = 20000, f32 .npy): anodiff ${ours} s, tidynamics ${peer} s, ratio $(ratio "$peer" "$ours")x faster"

# The default analysis against the bare MSD at the same (default) lags, d = 20,000.
bare=$(bench_ns msd "msd_T1000_default/bare_msd_d20000")
full=$(bench_ns msd "msd_T1000_default/default_path_d20000")
echo "MSD default path (MSD with coordinate groups + fit_msd defaults, d = 20000): $(awk -v ns="$full" 'BEGIN { printf "%.4f", ns * 1e-9 }') s, bare MSD $(awk -v ns="$bare" 'BEGIN { printf "%.4f", ns * 1e-9 }') s, cost $(ratio "$full" "$bare")x the bare MSD"

# Whole process on T = 1000, d = 200,000 (800 MB f32): `anodiff msd FILE` with every default
# (fit, 199 null simulations, 200 bootstrap replicates) against tidynamics.msd (f64 conversion
# counted), best of 3 each, in this one run.
if [[ ! -e /tmp/anodiff_msd_bench_T1000_d200000.npy ]]; then
    ANODIFF_MSD_BENCH_D=200000 bench_ns msd "anodiff_fft_f32_mmap_d200000" >/dev/null
fi
best=""
for _ in 1 2 3; do
    s=$( { /usr/bin/time -f "%e" target/release/anodiff msd /tmp/anodiff_msd_bench_T1000_d200000.npy >/dev/null; } 2>&1 | tail -n 1)
    best=$(awk -v a="$s" -v b="$best" 'BEGIN { if (b == "" || a < b) print a; else print b }')
done
peer=$("$py" scripts/peer_msd.py --d 200000 --k 20 --repeats 3 |
    "$py" -c 'import json,sys
for l in sys.stdin:
    l = l.strip()
    if l.startswith("{") and "seconds_min" in l: print(json.loads(l)["seconds_min"])')
echo "anodiff msd whole process (T = 1000, d = 200000, f32 .npy, all defaults): ${best} s, tidynamics.msd ${peer} s, ratio $(ratio "$peer" "$best")x faster"

ns=$(bench_ns segmented "segmented/recipe_n200_boot100")
ours=$(awk -v ns="$ns" 'BEGIN { printf "%.4f", ns * 1e-9 }')
peer=$("$py" scripts/peer_piecewise.py 3 | "$py" -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')
echo "crossover fit (200 points, 100 bootstrap restarts): anodiff ${ours} s, piecewise-regression ${peer} s, ratio $(ratio "$peer" "$ours")x faster"

ours_lanczos=$(cargo bench -q --bench lanczos -- --output-format bencher "${crit[@]}" 2>&1 | grep -E "^(lanczos|power iteration)" | head -n 6 || true)
echo "$ours_lanczos" >&2
if [[ -f target/lanczos-peer/cifar20000_eigenvalues.npy ]]; then
    "$py" scripts/peer_lanczos.py target/lanczos-peer/cifar20000_eigenvalues.npy \
        target/lanczos-peer/cifar20000_reflectors.npy --seeds 2 |
        OURS="$ours_lanczos" "$py" -c '
import json, os, re, sys
peer = json.load(sys.stdin)
arpack = [r["matvecs"] for r in peer["runs"] if r["tol"] == 1e-8 and r["ncv"] == 41]
ours = [int(m) for m in re.findall(r"^lanczos .*matvecs (\d+)", os.environ["OURS"], re.M)]
if arpack and ours:
    a, o, n = sum(arpack) / len(arpack), sum(ours) / len(ours), peer["n"]
    print(f"Lanczos top 20 at 1e-8 (n = {n}): anodiff {o:.0f} operator products, "
          f"ARPACK {a:.0f}, ratio {a / o:.2f}x fewer")
else:
    print("Lanczos: no comparable runs")'
fi

if ((with_torch)); then
    ns=$(bench_ns train_step "step/no_record")
    ours=$(awk -v ns="$ns" 'BEGIN { printf "%.3f", 1 / (ns * 1e-9) }')
    peer=$("$py" scripts/peer_torch_train.py --device cpu --model resnet20 --batch-size 128 --steps 5 |
        "$py" -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["steps_per_s"])')
    echo "training step (ResNet-20, batch 128, CPU): anodiff ${ours} steps/s, PyTorch ${peer} steps/s, ratio $(ratio "$ours" "$peer")x"
else
    echo "training step: skipped (run with --with-torch)"
fi
