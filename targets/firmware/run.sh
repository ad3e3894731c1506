#!/usr/bin/env bash
# Boots a firmware ELF on an emulated MPS2 board and prints its defmt log.
# The exit status is the firmware's (semihosting exit), or 124 if it hung.
#
# Usage: run.sh <elf>   (cargo passes the ELF; the board follows from the ELF's target)
# Q4K_BOARD=an500 runs a thumbv7em ELF on a Cortex-M7 instead of the default Cortex-M4F.
set -euo pipefail

elf="$1"
case "$elf" in
*thumbv8m.main-none-eabihf*) machine=mps2-an505 cpu=cortex-m33 ;;
*)
    case "${Q4K_BOARD:-an386}" in
    an386) machine=mps2-an386 cpu=cortex-m4 ;;
    an500) machine=mps2-an500 cpu=cortex-m7 ;;
    *) echo "run.sh: unknown Q4K_BOARD ${Q4K_BOARD}" >&2; exit 2 ;;
    esac
    ;;
esac

echo "run.sh: $machine ($cpu): $(basename "$elf")" >&2
set +e
timeout "${Q4K_QEMU_TIMEOUT:-60}" qemu-system-arm -machine "$machine" -cpu "$cpu" -nographic \
    -semihosting-config enable=on,target=native -kernel "$elf" |
    defmt-print --log-format '{s}' -e "$elf" stdin
status=("${PIPESTATUS[@]}")
set -e
if [ "${status[1]}" -ne 0 ]; then
    echo "run.sh: defmt-print failed (${status[1]})" >&2
    exit "${status[1]}"
fi
if [ "${status[0]}" -eq 124 ]; then
    echo "run.sh: QEMU timed out" >&2
fi
exit "${status[0]}"
