#!/usr/bin/env bash
# Cross checks of q4k: no_std builds for bare-metal targets, then the firmware test on emulated
# Cortex-M boards and the code-size budgets. Run from anywhere: `bash targets/check.sh`.
#
# Needs (CI installs these first):
#   rustup target add thumbv6m-none-eabi thumbv7em-none-eabihf thumbv8m.main-none-eabihf \
#       aarch64-unknown-none riscv32imac-unknown-none-elf x86_64-unknown-none \
#       x86_64-unknown-uefi aarch64-unknown-none-softfloat
#   rustup component add rust-src --toolchain nightly        # aarch64_be builds its own core
#   apt-get update && apt-get install -y qemu-system-arm     # qemu-system-arm; `timeout` is coreutils
#   cargo install --locked defmt-print                       # skip if `command -v defmt-print`
#   rustup component add llvm-tools                          # llvm-size, llvm-nm for size.sh
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in qemu-system-arm defmt-print timeout; do
    command -v "$tool" >/dev/null || { echo "check.sh: $tool is not installed" >&2; exit 1; }
done

# Bare-metal library builds, without and with defmt, warnings denied (a SIMD kernel compiled
# for a float ABI without its registers shows up as a warning or an LLVM error).
export RUSTFLAGS="-D warnings"
targets=(
    thumbv6m-none-eabi             # Cortex-M0/M0+: no FPU
    thumbv7em-none-eabihf          # Cortex-M4F/M7
    thumbv8m.main-none-eabihf      # Cortex-M33
    aarch64-unknown-none           # bare-metal Cortex-A: NEON is a baseline target feature
    riscv32imac-unknown-none-elf   # RISC-V microcontrollers
    x86_64-unknown-none            # kernels and bootloaders: soft-float, no SSE, scalar kernel
    x86_64-unknown-uefi            # UEFI applications: soft-float, scalar kernel
    aarch64-unknown-none-softfloat # no NEON in the float ABI: scalar kernel
)
for target in "${targets[@]}"; do
    for features in "" "defmt"; do
        echo "== build --target $target --no-default-features ${features:+--features $features}"
        cargo build --quiet --lib --target "$target" --no-default-features \
            ${features:+--features "$features"}
    done
done

# Big-endian aarch64 (tier 3, no prebuilt core: nightly builds it): the NEON kernel assumes
# little-endian and is left out, so the scalar kernel runs.
echo "== build --target aarch64_be-unknown-linux-gnu --no-default-features (build-std=core)"
CARGO_TARGET_DIR=target/aarch64_be cargo +nightly build --quiet --lib -Z build-std=core \
    --target aarch64_be-unknown-linux-gnu --no-default-features
unset RUSTFLAGS

# aarch64-unknown-none: without `std` the kernel is chosen from the build's target features, so
# NEON must be among them (the `-softfloat` variant lacks it and would fall back to scalar).
echo "== aarch64-unknown-none enables neon at compile time"
cfgs=$(cargo rustc --quiet --lib --target aarch64-unknown-none --no-default-features -- --print cfg)
grep -qx 'target_feature="neon"' <<<"$cfgs" ||
    { echo "check.sh: neon is not a target feature of aarch64-unknown-none" >&2; exit 1; }

# The firmware test on emulated boards: Cortex-M4F (mps2-an386), the same ELF on a Cortex-M7
# (mps2-an500), and a Cortex-M33 build (mps2-an505). Each run ends with `N passed, M failed`
# and fails the script unless everything passed.
cd targets/firmware
echo "== firmware lints"
cargo clippy --tests --examples -- -D warnings
echo "== firmware on mps2-an386 (Cortex-M4F)"
cargo test
echo "== firmware on mps2-an500 (Cortex-M7)"
Q4K_BOARD=an500 cargo test
echo "== firmware on mps2-an505 (Cortex-M33)"
cargo test --target thumbv8m.main-none-eabihf
echo "== code size on Cortex-M4F, against the budgets in size.sh"
bash size.sh --check
echo "check.sh: all cross checks passed"
