#!/usr/bin/env bash
# Build the CUDA flavour of the `anodiff` binary on a machine WITHOUT a GPU, for shipping to a
# machine that has a GPU and CUDA 13.0 libraries but no Rust toolchain (see README, "GPU build").
#
# What it does:
#   1. creates a Python venv (CUDA_VENV) and installs the CUDA 13.0 toolchain and link-time
#      libraries from PyPI (no system CUDA toolkit needed);
#   2. adds the unversioned .so names the linker asks for (libcublas.so -> libcublas.so.13, ...);
#   3. builds a stub libcuda.so (soname libcuda.so.1) exporting the driver symbols cudarc binds:
#      no wheel ships the driver, and the stub is used at LINK time only; at run time the GPU
#      machine's real driver libcuda.so.1 is loaded;
#   4. runs `cargo build --release --features cuda --bin anodiff` with CUDA_COMPUTE_CAP
#      (default 90: H100/H200) in a target dir of its own, strips the binary, checks its size,
#      and copies it to dist/anodiff (gitignored). The last line printed is the binary's path.
#
# Environment (all optional):
#   CUDA_VENV          venv for the toolchain             (default /work/cuda-venv or ./.cuda-venv)
#   CARGO_TARGET_DIR   target dir of the CUDA build       (default /work/target-cuda or ./target-cuda)
#   CUDA_COMPUTE_CAP   GPU compute capability x10         (default 90)
#   MAX_BINARY_MB      size limit of the stripped binary  (default 60)
#   CARGO_BUILD_JOBS   passed through to cargo
#
# The first run downloads ~1.2 GB of wheels and compiles candle-kernels' PTX (~13 CPU-minutes on
# 2 cores); later runs are incremental.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

if [[ -d /work && -w /work ]]; then
    default_venv=/work/cuda-venv
    default_target=/work/target-cuda
else
    default_venv=$repo_root/.cuda-venv
    default_target=$repo_root/target-cuda
fi
CUDA_VENV=${CUDA_VENV:-$default_venv}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$default_target}
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
MAX_BINARY_MB=${MAX_BINARY_MB:-60}
PYTHON=${PYTHON:-python3}

log() { printf '[build-cuda] %s\n' "$*" >&2; }
die() { printf '[build-cuda] error: %s\n' "$*" >&2; exit 1; }

# CUDA 13.0 everywhere: nvcc must not be newer than the target driver's CUDA (PTX made by a newer
# nvcc fails with CUDA_ERROR_UNSUPPORTED_PTX_VERSION), and the libraries' sonames (.so.13, curand
# .so.10) must match those on the GPU machine.
wheels=(
    nvidia-cuda-nvcc==13.0.88
    nvidia-nvvm==13.0.88
    nvidia-cuda-crt==13.0.88
    nvidia-cuda-runtime==13.0.96
    nvidia-cuda-cccl==13.0.85
    nvidia-cuda-nvrtc==13.0.88
    nvidia-cublas==13.0.2.14
    nvidia-curand==10.4.0.35
)

# ---- 1. toolchain venv ---------------------------------------------------------------------
stamp=$CUDA_VENV/.anodiff-cuda-wheels
if [[ ! -f $stamp || "$(cat "$stamp")" != "${wheels[*]}" ]]; then
    log "installing CUDA 13.0 wheels into $CUDA_VENV"
    [[ -x $CUDA_VENV/bin/python ]] || "$PYTHON" -m venv "$CUDA_VENV"
    "$CUDA_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "${wheels[@]}"
    echo "${wheels[*]}" >"$stamp"
else
    log "CUDA wheels already in $CUDA_VENV"
fi

site=$("$CUDA_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
export CUDA_HOME=$site/nvidia/cu13
[[ -x $CUDA_HOME/bin/nvcc ]] || die "nvcc not found at $CUDA_HOME/bin/nvcc after installing the wheels"
export PATH=$CUDA_HOME/bin:$PATH
export CUDA_PATH=$CUDA_HOME
nvcc --version | grep -q 'release 13.0' || die "expected nvcc release 13.0, got: $(nvcc --version | tail -2)"

# All CUDA-13 wheels share nvidia/cu13/lib; curand may land in its own folder in some versions.
libdir=$CUDA_HOME/lib
[[ -d $libdir ]] || die "missing $libdir"
for d in "$site"/nvidia/*/lib; do
    [[ $d == "$libdir" ]] && continue
    for f in "$d"/lib*.so.*; do
        [[ -e $f ]] && ln -sf "$f" "$libdir/$(basename "$f")"
    done
done

# ---- 2. unversioned names for the linker ---------------------------------------------------
link_name() { # link_name NAME: libNAME.so -> the highest libNAME.so.<major> present
    local target
    target=$(cd "$libdir" && ls "lib$1".so.[0-9]* 2>/dev/null | sort -V | head -n 1 || true)
    [[ -n $target ]] || die "lib$1.so.* not found in $libdir (wheel missing?)"
    ln -sf "$target" "$libdir/lib$1.so"
}
for name in cudart cublas cublasLt curand nvrtc; do link_name "$name"; done

# ---- 3. stub libcuda.so (link time only) ---------------------------------------------------
cargo fetch --quiet
cudarc_src=$(cargo metadata --format-version 1 --features cuda --quiet 2>/dev/null \
    | "$PYTHON" -c 'import json,sys; m=json.load(sys.stdin); print(next(p["manifest_path"] for p in m["packages"] if p["name"]=="cudarc"))' \
    | xargs dirname) || die "cannot locate the cudarc crate source (cargo metadata)"
bindings=$cudarc_src/src/driver/sys/mod.rs
[[ -f $bindings ]] || die "cudarc driver bindings not found at $bindings"
stubdir=$CUDA_VENV/libcuda-stub
mkdir -p "$stubdir"
# Every `extern "C" { fn cuXxx(...` in the bindings, as an empty C function: the linker only
# needs the names to resolve; the binary never calls the stub.
grep -oE '^\s*fn cu[A-Za-z0-9_]+\(' "$bindings" | sed -E 's/^\s*fn (cu[A-Za-z0-9_]+)\(/\1/' | sort -u \
    | awk '{ print "void " $1 "(void) {}" }' >"$stubdir/libcuda_stub.c"
nsyms=$(wc -l <"$stubdir/libcuda_stub.c")
((nsyms > 100)) || die "extracted only $nsyms driver symbols from $bindings"
gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$stubdir/libcuda.so" "$stubdir/libcuda_stub.c"
ln -sf "$stubdir/libcuda.so" "$libdir/libcuda.so"
log "stub libcuda.so with $nsyms driver symbols (link time only)"

# ---- 4. build ------------------------------------------------------------------------------
export LIBRARY_PATH=$libdir${LIBRARY_PATH:+:$LIBRARY_PATH}
export RUSTFLAGS="${RUSTFLAGS:-} -L native=$libdir"
log "cargo build --release --features cuda (CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP, target $CARGO_TARGET_DIR)"
cargo build --release --features cuda --bin anodiff

bin=$CARGO_TARGET_DIR/release/anodiff
[[ -x $bin ]] || die "build produced no binary at $bin"
strip "$bin"
size=$(stat -c %s "$bin")
mb=$((size / 1024 / 1024))
log "stripped binary: $bin ($size bytes, ${mb} MiB)"
((size < MAX_BINARY_MB * 1024 * 1024)) || die "binary is ${mb} MiB, over the ${MAX_BINARY_MB} MB limit"
log "needs at run time (from ldd's view here; libcuda.so.1 comes from the GPU machine's driver):"
readelf -d "$bin" | awk '/NEEDED/ { print "    " $NF }' >&2
# A copy inside the repository (gitignored) for tools that ship the work tree to the GPU machine.
mkdir -p "$repo_root/dist"
cp "$bin" "$repo_root/dist/anodiff"

# Fallback libcurand.so.10: recent PyTorch wheels no longer depend on nvidia-curand, so a GPU
# machine may lack it, yet candle creates a cuRAND generator when it opens the device. This stub
# (a few KB) lets the generator be created and fails every generation call with
# CURAND_STATUS_LAUNCH_FAILURE; anodiff draws its random numbers on the CPU (seeded), so training
# never calls it. gpu-check.sh puts it on LD_LIBRARY_PATH only when ldd finds no real libcurand.
fallback=$repo_root/dist/lib-fallback
mkdir -p "$fallback"
{
    echo 'typedef struct { int dummy; } gen_t; static gen_t the_gen;'
    echo 'int curandCreateGenerator(void **g, int type) { (void)type; *g = &the_gen; return 0; }'
    for f in curandDestroyGenerator curandSetPseudoRandomGeneratorSeed curandSetStream curandSetGeneratorOffset; do
        echo "int $f(void) { return 0; }"
    done
    nm -D --undefined-only "$bin" | grep -oE 'curandGenerate[A-Za-z]*' | sort -u | while read -r f; do
        echo "int $f(void) { return 201; }"
    done
} >"$fallback/curand_stub.c"
echo 'libcurand.so.10 { global: curand*; local: *; };' >"$fallback/curand_stub.map"
gcc -shared -fPIC -Wl,-soname,libcurand.so.10 -Wl,--version-script,"$fallback/curand_stub.map" \
    -o "$fallback/libcurand.so.10" "$fallback/curand_stub.c"
missing_syms=$(nm -D --undefined-only "$bin" | grep -oE 'curand[A-Za-z]+' | sort -u \
    | while read -r f; do nm -D --defined-only "$fallback/libcurand.so.10" | grep -qw "$f" || echo "$f"; done)
[[ -z $missing_syms ]] || die "the fallback libcurand stub lacks: $missing_syms"
log "copied to $repo_root/dist/anodiff, fallback libcurand stub in dist/lib-fallback (ship dist/; run scripts/gpu-check.sh there)"
echo "$bin"
