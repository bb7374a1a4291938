#!/usr/bin/env bash
# GPU smoke test and throughput check for the CUDA build of `anodiff` (scripts/build-cuda.sh), on
# a machine with an NVIDIA GPU, the driver, and CUDA 13.0 libraries from a PyTorch pip install, but
# no Rust toolchain and no network. Total runtime: about 2-6 minutes.
#
#   scripts/gpu-check.sh [BINARY]
#
# It checks that the binary starts (ldd, `anodiff --version`), trains ResNet-14 on CIFAR-10-shaped
# data at batch 1024 for STEPS steps on the GPU with every step recorded, and prints the steps/s
# beside PyTorch's for the same network, batch and optimiser on the same machine (skipped with a
# note when PyTorch is absent). It then runs `anodiff hessian` and `anodiff surface` at the
# initial checkpoint on the device and on the CPU and reports their largest relative
# differences.
#
# The data are SYNTHETIC: CIFAR-10 binary batch files (data_batch_1..5.bin, test_batch.bin; the
# real format, random pixels with a class-dependent shift so the loss can fall) generated here at
# run time, because only 20 real CIFAR-10 images ship with the repository. Throughput does not
# depend on pixel values.
#
# Environment (all optional):
#   ANODIFF_BIN   the binary (default: $1, else dist/anodiff, else target-cuda/release/anodiff)
#   STEPS         training steps (default 300)      BATCH   batch size (default 1024)
#   DEVICE        cuda (default); cpu only to try this script out on a machine without a GPU
#   TRAIN_TIMEOUT seconds for `anodiff train` (default 240)
#   AUX_TIMEOUT   seconds for each `anodiff hessian` / `surface` command (default 240)
#   WORK          scratch dir (default a fresh mktemp -d; holds ~400 MB: data and the recorded run)
#   OUT_DIR       where summary.json and the logs go (default $OUT if set, else $WORK/out)
#   PYTHON        python with PyTorch (default python3)
# Prints plain progress lines on stderr and one JSON summary on stdout (also OUT_DIR/summary.json).
set -uo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STEPS=${STEPS:-300}
BATCH=${BATCH:-1024}
TRAIN_TIMEOUT=${TRAIN_TIMEOUT:-240}
AUX_TIMEOUT=${AUX_TIMEOUT:-240} # each hessian / surface command
DEVICE=${DEVICE:-cuda} # cpu only to try the script itself on a machine without a GPU
PYTHON=${PYTHON:-python3}
WORK=${WORK:-$(mktemp -d /tmp/anodiff-gpu-check.XXXXXX)}
OUT_DIR=${OUT_DIR:-${OUT:-$WORK/out}}
mkdir -p "$WORK" "$OUT_DIR"

log() { printf '[gpu-check] %s\n' "$*" >&2; }
json_str() { # a JSON string literal (no python needed)
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\n'/\\n}
    s=${s//$'\t'/ }
    printf '"%s"' "$s"
}
declare -A R # summary fields, values already JSON-encoded
R[steps]=$STEPS
R[batch_size]=$BATCH
R[device]="\"$DEVICE\""
R[model]='"resnet14"'
R[data]='"synthetic CIFAR-10 binary batches generated at run time (50000 train / 2000 test)"'

finish() {
    local first=1 k
    local order=(ok gpu device binary binary_bytes version starts ldd_missing curand_stub model batch_size steps
        anodiff_steps_per_s anodiff_steps_per_s_runjson anodiff_record_fraction torch_steps_per_s torch_steps_per_s_record ratio_anodiff_over_torch
        ratio_anodiff_over_torch_record recorded_steps train_exit train_wall_s train_error
        hessian_rel_diff_vs_cpu surface_rel_diff_vs_cpu
        torch_version torch_note data ld_library_path error)
    local keys=() seen=" "
    for k in "${order[@]}"; do [[ -v R[$k] ]] && keys+=("$k") && seen+="$k "; done
    for k in "${!R[@]}"; do [[ $seen == *" $k "* ]] || keys+=("$k"); done
    {
        printf '{'
        for k in "${keys[@]}"; do
            ((first)) || printf ', '
            first=0
            printf '"%s": %s' "$k" "${R[$k]}"
        done
        printf '}\n'
    } | tee "$OUT_DIR/summary.json"
    exit "${1:-0}"
}

# ---- the binary ----------------------------------------------------------------------------
BIN=${ANODIFF_BIN:-${1:-}}
if [[ -z $BIN ]]; then
    for c in "$repo_root/dist/anodiff" "$repo_root/target-cuda/release/anodiff" /work/target-cuda/release/anodiff; do
        [[ -f $c ]] && BIN=$c && break
    done
fi
if [[ -z $BIN || ! -f $BIN ]]; then
    log "no binary found (give it as \$1 or ANODIFF_BIN; build it with scripts/build-cuda.sh)"
    R[ok]=false
    R[error]='"binary not found"'
    finish 1
fi
[[ -x $BIN ]] || chmod +x "$BIN" 2>/dev/null || { cp "$BIN" "$WORK/anodiff" && chmod +x "$WORK/anodiff" && BIN=$WORK/anodiff; }
R[binary]=$(json_str "$BIN")
R[binary_bytes]=$(stat -c %s "$BIN")

# ---- CUDA libraries from the pip install ---------------------------------------------------
have_python=0
command -v "$PYTHON" >/dev/null 2>&1 && have_python=1
libdirs=""
if ((have_python)); then
    libdirs=$("$PYTHON" - <<'EOF' 2>/dev/null
import glob, os, site, sys
dirs = []
def add(pattern):
    for d in sorted(glob.glob(pattern)):
        if os.path.isdir(d) and d not in dirs:
            dirs.append(d)
try:
    import nvidia
    for p in list(nvidia.__path__):
        add(os.path.join(p, "*", "lib"))
except Exception:
    pass
roots = []
try:
    roots += site.getsitepackages()
except Exception:
    pass
try:
    roots.append(site.getusersitepackages())
except Exception:
    pass
roots += [p for p in sys.path if p.endswith("-packages")]
for r in roots:
    add(os.path.join(r, "nvidia", "*", "lib"))
print(":".join(dirs))
EOF
    )
fi
if [[ -z $libdirs ]]; then
    # No python or no nvidia package: look for the cuBLAS 13 library on disk.
    hit=$(timeout 30 find / -xdev -name 'libcublas.so.13*' -path '*/lib/*' 2>/dev/null | head -n 1)
    [[ -n $hit ]] && libdirs=$(dirname "$hit")
fi
export LD_LIBRARY_PATH=${libdirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
log "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
R[ld_library_path]=$(json_str "$LD_LIBRARY_PATH")

if command -v nvidia-smi >/dev/null 2>&1; then
    gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n 1)
    log "GPU: $gpu"
    R[gpu]=$(json_str "$gpu")
fi

ldd "$BIN" >"$OUT_DIR/ldd.txt" 2>&1
missing=$(grep 'not found' "$OUT_DIR/ldd.txt" | awk '{print $1}' | tr '\n' ' ')
# Recent PyTorch wheels dropped nvidia-curand; build-cuda.sh ships a stub for that case (candle
# only creates a generator; anodiff never draws random numbers on the GPU).
fallback=$(dirname "$BIN")/lib-fallback
if [[ $missing == *libcurand.so.10* && -f $fallback/libcurand.so.10 ]]; then
    log "no libcurand.so.10 on this machine: using the stub in $fallback"
    export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$fallback
    R[curand_stub]=true
    R[ld_library_path]=$(json_str "$LD_LIBRARY_PATH")
    ldd "$BIN" >"$OUT_DIR/ldd.txt" 2>&1
    missing=$(grep 'not found' "$OUT_DIR/ldd.txt" | awk '{print $1}' | tr '\n' ' ')
fi
R[ldd_missing]=$(json_str "$missing")
if [[ -n $missing ]]; then
    log "ldd: missing libraries: $missing (see $OUT_DIR/ldd.txt)"
fi
if ! version=$("$BIN" --version 2>"$OUT_DIR/version.err"); then
    log "the binary does not start: $(tail -n 3 "$OUT_DIR/version.err")"
    R[ok]=false
    R[starts]=false
    R[error]=$(json_str "$(tail -n 3 "$OUT_DIR/version.err")")
    finish 1
fi
log "starts: $version"
R[starts]=true
R[version]=$(json_str "$version")

# ---- synthetic CIFAR-10 data ---------------------------------------------------------------
data=$WORK/cifar10-synthetic
mkdir -p "$data"
if ((have_python)); then
    "$PYTHON" - "$data" <<'EOF'
import os, sys, random
out = sys.argv[1]
try:
    import numpy as np
except ImportError:
    np = None
def write(name, n, seed):
    path = os.path.join(out, name)
    if np is not None:
        rng = np.random.default_rng(seed)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        pix = rng.integers(0, 200, (n, 3072), dtype=np.uint8)
        # Class-dependent brightness of one channel: a signal the net can learn.
        ch = (labels % 3).astype(np.int64)
        for c in range(3):
            sel = ch == c
            pix[sel, c * 1024:(c + 1) * 1024] += (labels[sel, None] * 5).astype(np.uint8)
        rec = np.concatenate([labels[:, None], pix], axis=1)
        rec.tofile(path)
    else:
        rnd = random.Random(seed)
        with open(path, "wb") as f:
            for _ in range(n):
                f.write(bytes([rnd.randrange(10)]) + os.urandom(3072))
for i in range(1, 6):
    write(f"data_batch_{i}.bin", 10000, i)
write("test_batch.bin", 2000, 99)
EOF
else
    log "python absent: cannot generate CIFAR-10 data"
    R[ok]=false
    R[error]='"python absent: cannot generate synthetic CIFAR-10 files"'
    finish 1
fi
log "synthetic CIFAR-10 batches in $data ($(du -sh "$data" | cut -f1))"

# ---- anodiff train on the GPU --------------------------------------------------------------
run=$WORK/run-resnet14
rm -rf "$run"
log "anodiff train --model resnet14 --batch-size $BATCH --steps $STEPS --device $DEVICE (timeout ${TRAIN_TIMEOUT}s)"
t0=$(date +%s.%N)
timeout "$TRAIN_TIMEOUT" "$BIN" train --model resnet14 --dataset "cifar10:$data" --batch-size "$BATCH" \
    --steps "$STEPS" --lr 0.1 --seed 0 --device "$DEVICE" --out "$run" \
    >"$OUT_DIR/train.stdout" 2>"$OUT_DIR/train.stderr" &
pid=$!
# Poll the store's manifest for the committed step count: the steady-state rate then excludes
# start-up (CUDA context, PTX JIT, data loading) and is measured on recorded steps.
: >"$OUT_DIR/progress.txt"
while kill -0 "$pid" 2>/dev/null; do
    if [[ -f $run/manifest.json ]]; then
        n=$(grep -o '"n_steps": *[0-9]*' "$run/manifest.json" 2>/dev/null | grep -o '[0-9]*$')
        [[ -n $n ]] && echo "$(date +%s.%N) $n" >>"$OUT_DIR/progress.txt"
    fi
    sleep 0.25
done
wait "$pid"
rc=$?
t1=$(date +%s.%N)
R[train_exit]=$rc
R[train_wall_s]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
cp "$run/run.json" "$OUT_DIR/run.json" 2>/dev/null
cp "$run/manifest.json" "$OUT_DIR/manifest.json" 2>/dev/null
if [[ -f $run/manifest.json ]]; then
    R[recorded_steps]=$(grep -o '"n_steps": *[0-9]*' "$run/manifest.json" | grep -o '[0-9]*$')
fi
if ((rc != 0)); then
    log "anodiff train failed (exit $rc; 124 = timeout): $(tail -n 5 "$OUT_DIR/train.stderr")"
    R[train_error]=$(json_str "$(tail -n 5 "$OUT_DIR/train.stderr")")
fi
# Steady-state steps/s: from the first sample at >= 10% of the steps to the last sample.
rate=$(awk -v steps="$STEPS" '
    # Keep the first time each count is seen: the samples after the last step (final
    # evaluation, checkpoint) must not stretch the interval.
    $2 != last { k++; t[k] = $1; n[k] = $2; last = $2 }
    END {
        lo = 0
        for (i = 1; i <= k; i++) if (n[i] >= steps / 10 && n[i] > 0) { lo = i; break }
        if (lo == 0 || k < 2 || n[k] <= n[lo] || t[k] <= t[lo]) { print "null"; exit }
        printf "%.3f", (n[k] - n[lo]) / (t[k] - t[lo])
    }' "$OUT_DIR/progress.txt")
R[anodiff_steps_per_s]=$rate
# The trainer's own accounting (run.json "timing": seconds inside SGD steps, of which recording).
if ((have_python)) && [[ -f $run/run.json ]]; then
    timing=$("$PYTHON" - "$run/run.json" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1])).get("timing", {})
s, r, n = t.get("step_seconds"), t.get("record_seconds"), t.get("steps")
if s and n:
    print(f"{n / s:.3f} {r / s:.4f}")
EOF
    )
    if [[ -n $timing ]]; then
        R[anodiff_steps_per_s_runjson]=${timing%% *}
        R[anodiff_record_fraction]=${timing##* }
    fi
fi
log "anodiff: ${rate} steps/s (steady state, recording every step), wall ${R[train_wall_s]} s for ${R[recorded_steps]:-?} steps"

# ---- Hessian and loss surface on the device, against the CPU -------------------------------
# The same command on both devices at the initial checkpoint: top-2 Hessian eigenvalues (exact
# double backpropagation in f64, 32 fixed examples) and a 5 x 5 loss surface on 256 examples. They must agree to the
# rounding of different kernels: relative differences are reported, not judged here.
if ((rc == 0)) && ((have_python)); then
    for dev in "$DEVICE" cpu; do
        log "anodiff hessian / surface at checkpoint 0 on $dev"
        CANDLE_GRAD_DO_NOT_DETACH=1 timeout "$AUX_TIMEOUT" "$BIN" hessian "$run" --checkpoint 0 \
            --k 2 --tol 1e-4 --batch-size 32 --batches 1 --device "$dev" --out "$WORK/hessian-$dev.json" \
            >"$OUT_DIR/hessian-$dev.json" 2>"$OUT_DIR/hessian-$dev.stderr" ||
            log "hessian on $dev failed (exit $?; 124 = timeout): $(tail -n 3 "$OUT_DIR/hessian-$dev.stderr")"
        timeout "$AUX_TIMEOUT" "$BIN" surface "$run" --checkpoint 0 --grid 5 --examples 256 --device "$dev" \
            --out "$WORK/surface-$dev.npy" >"$OUT_DIR/surface-$dev.json" 2>"$OUT_DIR/surface-$dev.stderr" ||
            log "surface on $dev failed (exit $?; 124 = timeout): $(tail -n 3 "$OUT_DIR/surface-$dev.stderr")"
    done
    cmp_out=$("$PYTHON" - "$OUT_DIR" "$WORK" "$DEVICE" <<'EOF'
import json, sys
out, work, dev = sys.argv[1:4]
def eig(d):
    try:
        return json.load(open(f"{out}/hessian-{d}.json"))["checkpoints"][0]["eigenvalues"]
    except Exception:
        return None
def surf(d):
    try:
        import numpy as np
        return np.load(f"{work}/surface-{d}.npy").ravel().tolist()
    except Exception:
        return None
def rel(a, b):
    if not a or not b or len(a) != len(b):
        return "null"
    return "%.3e" % max(abs(x - y) / max(abs(y), 1e-300) for x, y in zip(a, b))
print(rel(eig(dev), eig("cpu")), rel(surf(dev), surf("cpu")))
EOF
    )
    R[hessian_rel_diff_vs_cpu]=${cmp_out%% *}
    R[surface_rel_diff_vs_cpu]=${cmp_out##* }
    log "device against CPU: Hessian eigenvalues ${cmp_out%% *}, surface ${cmp_out##* } (max relative difference)"
fi

# ---- PyTorch on the same machine -----------------------------------------------------------
if ((have_python)) && "$PYTHON" -c "import torch, sys; sys.exit(0 if '$DEVICE' == 'cpu' or torch.cuda.is_available() else 1)" 2>/dev/null; then
    for rec in "" "--record"; do
        key=torch_steps_per_s${rec:+_record}
        log "PyTorch resnet14 batch $BATCH $rec"
        if out=$(timeout 90 "$PYTHON" "$repo_root/scripts/peer_torch_train.py" --device "$DEVICE" --model resnet14 \
            --batch-size "$BATCH" --steps "$STEPS" --warmup 10 $rec 2>"$OUT_DIR/torch$rec.stderr"); then
            echo "$out" >"$OUT_DIR/torch$rec.json"
            sps=$(echo "$out" | grep -o '"steps_per_s": *[0-9.e+-]*' | grep -o '[0-9.e+-]*$')
            R[$key]=${sps:-null}
            R[torch_version]=$(echo "$out" | grep -o '"torch": *"[^"]*"' | sed 's/.*: *//')
            log "PyTorch: $sps steps/s"
        else
            R[$key]=null
            log "PyTorch run failed: $(tail -n 3 "$OUT_DIR/torch$rec.stderr")"
        fi
    done
    if [[ ${R[torch_steps_per_s_record]:-null} != null && $rate != null ]]; then
        R[ratio_anodiff_over_torch_record]=$(awk -v a="$rate" -v b="${R[torch_steps_per_s_record]}" 'BEGIN { printf "%.3f", a / b }')
    fi
    if [[ ${R[torch_steps_per_s]:-null} != null && $rate != null ]]; then
        R[ratio_anodiff_over_torch]=$(awk -v a="$rate" -v b="${R[torch_steps_per_s]}" 'BEGIN { printf "%.3f", a / b }')
    fi
else
    log "PyTorch with CUDA not available: skipping the peer"
    R[torch_steps_per_s]=null
    R[torch_note]='"PyTorch (with CUDA) not importable"'
fi

if ((rc == 0)) && [[ $rate != null ]]; then R[ok]=true; else R[ok]=false; fi
[[ ${R[ok]} == true ]] && finish 0 || finish 1
