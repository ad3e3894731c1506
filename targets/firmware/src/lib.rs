//! Support for the firmware test programs: pass/fail tally, bit comparison, stack measurement,
//! semihosting exit, and a panic handler that logs through defmt and exits with failure.
//!
//! Logging goes through `defmt-semihosting` to QEMU's stdout; `run.sh` decodes it.
#![no_std]

use cortex_m_semihosting::debug;
use defmt_semihosting as _;

/// The reference blocks: N * 144 bytes.
pub static BLOCKS: &[u8] = include_bytes!("../../../tests/vectors/q4k_blocks.bin");

/// The reference values: N * 256 little-endian `f32` bit patterns.
pub static EXPECTED: &[u8] = include_bytes!("../../../tests/vectors/q4k_expected.f32");

/// The number of reference blocks.
pub const BLOCK_COUNT: usize =
    include_bytes!("../../../tests/vectors/q4k_blocks.bin").len() / q4k::BLOCK_BYTES;

/// The number of reference values.
pub const VALUE_COUNT: usize = BLOCK_COUNT * q4k::BLOCK_VALUES;

/// Reference value `index`, or `None` past the end of the file.
pub fn expected(index: usize) -> Option<f32> {
    let bytes = EXPECTED.get(4 * index..4 * index + 4)?;
    let bytes: [u8; 4] = bytes.try_into().ok()?;
    Some(f32::from_le_bytes(bytes))
}

/// Whether `got` matches `want` bit for bit (any NaN matches a NaN: the payload is not part of
/// the format's contract).
pub fn same(got: f32, want: f32) -> bool {
    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan())
}

/// Compares decoded values with the reference values starting at value `first`; logs the first
/// mismatch and returns the number of mismatching values.
pub fn mismatches(name: &str, first: usize, got: &[f32]) -> usize {
    let mut count = 0;
    for (i, &value) in got.iter().enumerate() {
        let index = first + i;
        let ok = expected(index).is_some_and(|want| same(value, want));
        if !ok {
            if count == 0 {
                defmt::error!(
                    "{}: value {} is {=u32:#010x}, expected {=u32:#010x}",
                    name,
                    index,
                    value.to_bits(),
                    expected(index).map_or(0, f32::to_bits)
                );
            }
            count += 1;
        }
    }
    count
}

/// Counts passed and failed checks.
#[derive(Default)]
pub struct Tally {
    passed: u32,
    failed: u32,
}

impl Tally {
    /// Records one check and logs it.
    pub fn check(&mut self, name: &str, ok: bool) {
        if ok {
            self.passed += 1;
            defmt::info!("ok   {}", name);
        } else {
            self.failed += 1;
            defmt::error!("FAIL {}", name);
        }
    }

    /// Prints the closing `N passed, M failed` line and exits: success only if nothing failed.
    pub fn finish(self) -> ! {
        defmt::info!("{} passed, {} failed", self.passed, self.failed);
        exit(self.failed == 0)
    }
}

/// Ends the QEMU session with exit status 0 (`success`) or 1.
pub fn exit(success: bool) -> ! {
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Only reached without a debugger or semihosting host.
    loop {
        cortex_m::asm::bkpt();
    }
}

/// The value free stack memory is painted with.
const PAINT: u32 = 0xcccc_cccc;

unsafe extern "C" {
    /// Lowest address the stack may grow to (end of the statics), from cortex-m-rt's `link.x`.
    static _stack_end: u32;
    /// Initial stack pointer, from cortex-m-rt's `link.x`.
    static _stack_start: u32;
}

/// Lowest stack address: the end of the statics.
fn stack_floor() -> usize {
    (&raw const _stack_end) as usize
}

/// The lowest word from `floor` upwards (below `ceiling`) that no longer holds the paint.
fn lowest_used(floor: usize, ceiling: usize) -> usize {
    let mut address = floor;
    while address < ceiling {
        // SAFETY: `address` is word-aligned RAM between the end of the statics and the stack
        // pointer's range, which belongs to no Rust object; a volatile read observes it as is.
        let word = unsafe { core::ptr::read_volatile(address as *const u32) };
        if word != PAINT {
            return address;
        }
        address += 4;
    }
    ceiling
}

/// Runs `f` and returns its result with the number of stack bytes it used (its frames and
/// everything it called, measured by painting the free stack before the call and finding the
/// lowest overwritten word after it).
#[inline(never)]
pub fn stack_used_by<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let sp = cortex_m::register::msp::read() as usize;
    let floor = stack_floor();
    // Keep clear of the words just below the stack pointer: nothing is live there, but leave a
    // margin for the compiler's own spills in this frame.
    let top = (sp - 64) & !3;
    let mut address = floor;
    while address < top {
        // SAFETY: `address` is word-aligned RAM below the live stack (64 bytes under the stack
        // pointer) and above the statics; no Rust object lives there and no interrupt is enabled.
        unsafe { core::ptr::write_volatile(address as *mut u32, PAINT) };
        address += 4;
    }
    let result = call(f);
    (result, sp - lowest_used(floor, top))
}

/// Calls `f` in a frame of its own, so that its stack use is below the measured stack pointer
/// even where `f` is inlined.
#[inline(never)]
fn call<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Peak stack use of the whole program so far, from the paint cortex-m-rt applied at reset
/// (feature `paint-stack`). Call it before [`stack_used_by`], which repaints.
pub fn peak_stack() -> usize {
    let start = (&raw const _stack_start) as usize;
    start - lowest_used(stack_floor(), start)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    defmt::error!("panic: {}", defmt::Display2Format(info));
    exit(false)
}

#[defmt::panic_handler]
fn defmt_panic() -> ! {
    exit(false)
}

/// The program shared by the code-size probes in `examples/`: four blocks of input and room for
/// their values, both opaque to the optimiser, handed to `$decode`, which says whether it
/// worked. `size.sh` compares each probe's `.text` with `size_baseline`'s.
#[macro_export]
macro_rules! size_probe {
    (|$input:ident, $output:ident| $decode:expr) => {
        static INPUT: [u8; 4 * q4k::BLOCK_BYTES] = [0x5a; 4 * q4k::BLOCK_BYTES];

        #[cortex_m_rt::entry]
        fn main() -> ! {
            static mut OUTPUT: [f32; 4 * q4k::BLOCK_VALUES] = [0.0; 4 * q4k::BLOCK_VALUES];
            let $input: &[u8] = core::hint::black_box(&INPUT);
            let $output: &mut [f32] = core::hint::black_box(OUTPUT);
            let ok: bool = $decode;
            core::hint::black_box($output);
            $crate::exit(ok)
        }
    };
}
