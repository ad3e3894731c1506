//! x86_64 kernels: SSE2 (baseline), AVX2 with FMA, AVX-512; CPU detection and the helpers the
//! kernels of every operation share.
//!
//! Compiled only where the float ABI has SSE2 (`target_feature = "sse2"`): the soft-float
//! targets (`x86_64-unknown-none`, `x86_64-unknown-uefi`) run the scalar kernels.
//!
//! Each `decode` writes `min(blocks.len(), out.len() / 256)` blocks, so an inconsistent pair of
//! lengths cannot write out of bounds; the callers pass `out.len() == blocks.len() * 256`.

pub(crate) mod avx2;
pub(crate) mod avx512;
pub(crate) mod sse2;

use crate::arch::prepared::Prefetch;
use crate::decode_half::Half;
use crate::{BLOCK_BYTES, BLOCK_VALUES, BlockQ4K};

/// Whether the AVX2 kernel can run (AVX2 and FMA): detected on the CPU with `std`, taken from
/// the build's target features without it.
#[inline]
pub(crate) fn has_avx2_fma() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(all(target_feature = "avx2", target_feature = "fma"))
    }
}

/// Whether the AVX-512 kernel can run (AVX-512F): detected on the CPU with `std`, taken from
/// the build's target features without it.
#[inline]
pub(crate) fn has_avx512f() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(target_feature = "avx512f")
    }
}

/// Whether the AVX-512 dot-product kernel can run: AVX-512F, AVX-512BW (byte shuffles) and
/// AVX512-VNNI (`vpdpbusd`, `vpdpwssd`). Without BW and VNNI the [`Kernel::Avx512`] dot runs
/// the AVX2 kernel, which every AVX-512 CPU can run.
///
/// [`Kernel::Avx512`]: crate::Kernel::Avx512
#[inline]
pub(crate) fn has_avx512_vnni() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(all(
            target_feature = "avx512f",
            target_feature = "avx512bw",
            target_feature = "avx512vnni"
        ))
    }
}

/// Whether the CPU (with `std`) or the build (without) has AVX-VNNI (`vpdpbusd` and `vpdpwssd`
/// on 256-bit registers, VEX-encoded: Intel's client CPUs since Alder Lake, which have no
/// AVX-512, its E-core Xeons, Sapphire Rapids and later, and Zen 5), which the AVX2 dot kernel
/// uses when present.
#[inline]
pub(crate) fn has_avx_vnni() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("avxvnni")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(target_feature = "avxvnni")
    }
}

/// Whether the CPU (with `std`) or the build (without) has AVX512-VBMI (`vpermb`, a byte
/// permutation across the whole register), which the AVX-512 dot kernel uses when present.
#[inline]
pub(crate) fn has_avx512vbmi() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("avx512vbmi")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(target_feature = "avx512vbmi")
    }
}

/// Whether the CPU (with `std`) or the build (without) has GFNI (`vgf2p8affineqb`, which the
/// AVX-512 dot kernel uses to shift every byte right by four in one instruction).
#[inline]
pub(crate) fn has_gfni() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("gfni")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(target_feature = "gfni")
    }
}

/// Whether the CPU (with `std`) or the build (without) has F16C, the `f32` <-> binary16
/// conversions of the AVX2 half kernel.
#[inline]
pub(crate) fn has_f16c() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("f16c")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(target_feature = "f16c")
    }
}

/// Whether the CPU (with `std`) or the build (without) has AVX-512BW, the 16-bit lane
/// shuffles of the AVX-512 half kernel.
#[inline]
pub(crate) fn has_avx512bw() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("avx512bw")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(target_feature = "avx512bw")
    }
}

/// Whether the CPU (with `std`) or the build (without) has AVX512-BF16 (`vcvtne2ps2bf16`).
#[inline]
pub(crate) fn has_avx512bf16() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(target_feature = "avx512bf16")
    }
}

/// The eight 6-bit sub-block scales and the eight 6-bit mins of a block, one per byte:
/// `(scales, mins)` as little-endian `u64`s, byte `j` for sub-block `j`.
///
/// Unpacks the twelve packed bytes with four-byte-wide masks and shifts instead of per-value
/// work; see `BlockQ4K::scales_and_mins` for the per-value definition.
#[inline(always)]
pub(crate) fn scales_and_mins_u64(block: &BlockQ4K) -> (u64, u64) {
    let s = block.packed_scales();
    let a = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
    let b = u32::from_le_bytes([s[4], s[5], s[6], s[7]]);
    let c = u32::from_le_bytes([s[8], s[9], s[10], s[11]]);
    let scales_lo = a & 0x3F3F_3F3F;
    let mins_lo = b & 0x3F3F_3F3F;
    let scales_hi = (c & 0x0F0F_0F0F) | ((a >> 2) & 0x3030_3030);
    let mins_hi = ((c >> 4) & 0x0F0F_0F0F) | ((b >> 2) & 0x3030_3030);
    (
        u64::from(scales_lo) | (u64::from(scales_hi) << 32),
        u64::from(mins_lo) | (u64::from(mins_hi) << 32),
    )
}

/// A half kernel's block loop over `blocks` into `dst` (256 values per block), for one format
/// and one store kind.
pub(crate) type HalfLoop = unsafe fn(&[BlockQ4K], *mut u16);

/// The body of the SSE2 and AVX2 half kernels: runs, over `min(blocks.len(), out.len() / 256)`
/// blocks, the loop of `loops` (`[f16, f16 streaming, bf16, bf16 streaming]`) for `half`, the
/// streaming one if `streaming` and `out` starts on an `align`-byte boundary (then an `sfence`,
/// so that the non-temporal stores are ordered before any later store, as ordinary stores are).
///
/// # Safety
///
/// Each of `loops` must be safe to call on this CPU with a `dst` valid for writes of
/// `256 * blocks.len()` values, the streaming ones with a `dst` on an `align`-byte boundary.
#[inline(always)]
pub(crate) unsafe fn run_half_loop(
    blocks: &[BlockQ4K],
    out: &mut [u16],
    half: Half,
    streaming: bool,
    align: usize,
    loops: [HalfLoop; 4],
) {
    debug_assert_eq!(out.len(), blocks.len() * BLOCK_VALUES);
    let count = blocks.len().min(out.len() / BLOCK_VALUES);
    let blocks = &blocks[..count];
    let dst = out.as_mut_ptr();
    let streaming = streaming && (dst as usize).is_multiple_of(align);
    let [f16, f16_stream, bf16, bf16_stream] = loops;
    let run = match (half, streaming) {
        (Half::F16, false) => f16,
        (Half::F16, true) => f16_stream,
        (Half::Bf16, false) => bf16,
        (Half::Bf16, true) => bf16_stream,
    };
    // SAFETY: `dst` has room for `256 * blocks.len()` values and is `align`-byte aligned when
    // streaming; the caller guarantees the loops can run on this CPU.
    unsafe { run(blocks, dst) };
    if streaming {
        // SAFETY: SSE2 is enabled in every build this module is compiled in (its cfg).
        unsafe { core::arch::x86_64::_mm_sfence() };
    }
}

/// Whether `block`'s `d` and `dmin` are finite (neither f16 exponent is all ones): then every
/// value it decodes to is finite, so the half kernels' bfloat16 rounding can leave out NaN.
/// Each value is `(d * sc) * q - dmin * m` with six-bit `sc` and `m` and four-bit `q`, at most
/// about `65504 * 63 * 15` in magnitude, far inside `f32`.
#[inline]
pub(crate) fn has_finite_scales(block: &BlockQ4K) -> bool {
    let (d, dmin) = block.d_dmin_bits();
    crate::f16::f16_is_finite(d) && crate::f16::f16_is_finite(dmin)
}

/// A block's scales as the x86_64 kernels read them: `d`, `dmin`, and the eight 6-bit
/// sub-block scales and mins one per byte.
#[derive(Clone, Copy)]
pub(crate) struct BlockScales {
    /// The block's `d`.
    pub(crate) d: f32,
    /// The block's `dmin`.
    pub(crate) dmin: f32,
    /// Byte `j`: sub-block `j`'s scale.
    scales: u64,
    /// Byte `j`: sub-block `j`'s min.
    mins: u64,
}

impl BlockScales {
    /// The scales of `block`.
    #[inline(always)]
    pub(crate) fn new(block: &BlockQ4K) -> Self {
        let (scales, mins) = scales_and_mins_u64(block);
        Self {
            d: block.d(),
            dmin: block.dmin(),
            scales,
            mins,
        }
    }

    /// Sub-block `j`'s scale `sc[j]` as `f32` (exact), read from memory.
    #[inline(always)]
    pub(crate) fn sc(&self, j: usize) -> f32 {
        SMALL_F32[(self.scales >> (8 * j)) as usize & 63]
    }

    /// Sub-block `j`'s min `m[j]` as `f32` (exact), read from memory.
    #[inline(always)]
    pub(crate) fn m(&self, j: usize) -> f32 {
        SMALL_F32[(self.mins >> (8 * j)) as usize & 63]
    }
}

/// Widens f16 bits to `f32` without branches, exactly as [`f16_to_f32`](crate::f16_to_f32):
/// the exponent and significand moved into place and multiplied by 2^112 (exact for normal and
/// subnormal values, whose rebiased results are normal f32), infinities and NaNs given the
/// all-ones exponent with their payload.
#[inline(always)]
pub(crate) fn f16_to_f32_branchless(bits: u16) -> f32 {
    let bits = u32::from(bits);
    let sign = (bits & 0x8000) << 16;
    let magnitude = (bits & 0x7FFF) << 13;
    let finite = (f32::from_bits(magnitude) * f32::from_bits(0x7780_0000)).to_bits();
    let widened = if bits & 0x7C00 == 0x7C00 {
        magnitude | 0x7F80_0000
    } else {
        finite
    };
    f32::from_bits(sign | widened)
}

/// `SMALL_F32[i] == i as f32`, for the 6-bit scales and mins.
pub(crate) static SMALL_F32: [f32; 64] = {
    let mut values = [0.0; 64];
    let mut i = 0;
    while i < 64 {
        values[i] = i as f32;
        i += 1;
    }
    values
};

/// The last two steps of the `f32` dot product's lane reduction, shared by the x86_64 kernels:
/// `h2[j] = h4[j] + h4[j + 2]`, then `h2[0] + h2[1]`.
#[target_feature(enable = "sse2")]
#[inline]
pub(crate) fn reduce_h4(h4: core::arch::x86_64::__m128) -> f32 {
    use core::arch::x86_64::*;
    let h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
    _mm_cvtss_f32(_mm_add_ss(h2, _mm_shuffle_ps::<1>(h2, h2)))
}

/// The sum of the four `i32` lanes of `s` (the min sums of the `Q8_K` dot kernels: exact, in
/// any order).
#[target_feature(enable = "sse2")]
#[inline]
pub(crate) fn sum_i32x4(s: core::arch::x86_64::__m128i) -> i32 {
    use core::arch::x86_64::*;
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    _mm_cvtsi128_si32(_mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s)))
}

/// How far ahead of the block being multiplied the matrix-vector kernels prefetch the weights.
///
/// With the hardware prefetcher alone the AVX-512 `f32` kernel ran at about 0.6 of its
/// in-cache speed on a 256 MiB matrix (Zen 4, one thread); prefetching the three cache lines
/// 2 KiB ahead brought it to about 0.9. One line 1 KiB ahead did not help, and 4 KiB ahead
/// measured slower than 2 KiB (on a busy machine).
///
/// The `Q8_K` kernels run two to three times faster per byte and want less: on a 256 MiB
/// matrix (Zen 4, 4 KiB pages, one thread, 25 rounds alternating in one process with a read
/// loop over the same bytes) the AVX-512 kernel read at 0.85x the loop's speed with three lines
/// per block, 0.96x with none, 0.97x with one ([`prefetch_weights`]); the `f32` kernel at
/// 0.40x with three, 0.29x with none and 0.25x with one. On Zen 4, three prefetches per block
/// for a fast kernel are mostly for lines already requested, and they take the fill buffers the
/// hardware prefetcher needs; on an Intel Xeon they are what brings the kernel near its read
/// loop ([`DotPrefetch`]).
pub(crate) const PREFETCH_BYTES: usize = 2048;

/// How far ahead the AVX2 and AVX-512 kernels' eight rows side by side prefetch each row's
/// stream (on CPUs where they prefetch at all, see [`DotPrefetch`]). On the Xeon there, against
/// [`PREFETCH_BYTES`]: AVX-512 in cache 1.03-1.04x faster, at 256 MiB as fast on long rows and
/// 1.05x on rows of 4096 values (10.2 against 9.7 GB/s); AVX2 (with its hint into L1) see
/// [`DotPrefetch`].
pub(crate) const SIDE_BY_SIDE_PREFETCH_BYTES: usize = 1024;

/// Prefetches the weights `AHEAD` + `skip` bytes after the start of `block` as `how` says: the
/// `Q8_K` dot kernels' hint (see [`PREFETCH_BYTES`], [`DotPrefetch`] and [`next_group_skip`]),
/// `AHEAD` [`PREFETCH_BYTES`] but for the AVX-512 kernel's eight rows. A constant, so that it
/// stays in the instruction (a register more cost the AVX2 kernel's eight rows 3%). Only a hint:
/// it never faults, whatever the address.
#[target_feature(enable = "sse2")]
#[inline]
pub(crate) fn prefetch_weights<const AHEAD: usize>(block: &BlockQ4K, how: Prefetch, skip: usize) {
    use core::arch::x86_64::{_MM_HINT_T0, _MM_HINT_T1, _mm_prefetch};
    let ahead = core::ptr::from_ref(block)
        .cast::<i8>()
        .wrapping_add(AHEAD + skip);
    // One line is its hint three times (repeats of a line in flight merge into its fill
    // buffer): as fast as a single hint on the Xeon of [`DotPrefetch`], in cache and at 256 MiB,
    // where branching between one hint and three cost 6% at 256 MiB.
    let stride = if how == Prefetch::Line { 0 } else { 64 };
    match how {
        Prefetch::Off => {}
        Prefetch::BlockToL2 => {
            for line in 0..3 {
                _mm_prefetch::<_MM_HINT_T1>(ahead.wrapping_add(stride * line));
            }
        }
        Prefetch::Line | Prefetch::Block => {
            for line in 0..3 {
                _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(stride * line));
            }
        }
    }
}

/// The `skip` for [`prefetch_weights`] (`AHEAD` bytes ahead) at block `i` of a row of `n`
/// blocks when `rows` rows (stored back to back) are multiplied side by side: where the
/// prefetch would land past the end of the row (in the next row, which this group has read
/// already), it goes as far into the same row of the next group, which is read next. On the
/// Xeon of [`DotPrefetch`], AVX-512 at 256 MiB, against prefetching past the row ends: rows of
/// 14336 values 13.2-13.3 GB/s against 9.3-9.5 (1.41x), rows of 28672 14.1-14.2 against
/// 11.5-11.7 (1.2x); both above a plain read loop over the same bytes (about 12.7).
#[inline(always)]
pub(crate) fn next_group_skip<const AHEAD: usize>(i: usize, n: usize, rows: usize) -> usize {
    if rows > 1 && BLOCK_BYTES * i + AHEAD >= BLOCK_BYTES * n {
        (rows - 1) * n * BLOCK_BYTES
    } else {
        0
    }
}

/// The `vpshufb` patterns with which the eight-row `Q8_K` loops unpack the scales and mins of
/// several rows at once, per 128 bits (one row's 16-byte block head: `d`, `dmin`, then the
/// twelve packed bytes `q`), with 0x80 for a zero byte: the bytes of the low bits of the scales
/// and mins (`q[0..4]`, `q[8..12]`, `q[4..8]`, `q[8..12]`), the masks of those low bits (the
/// mins of sub-blocks 4..8 are shifted down 4 first), the bytes of the top two bits of
/// sub-blocks 4..8 (`q[0..4]` for the scales, `q[4..8]` for the mins), and, from the unpacked
/// bytes (scales 0..8, mins 8..16), the mins as two words each, sub-blocks 0..4 then 4..8.
/// As `scales_and_mins_u64` does with scalar arithmetic.
pub(crate) const HEAD_LANES: [[u8; 16]; 5] = {
    const Z: u8 = 0x80;
    [
        [4, 5, 6, 7, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15],
        [
            63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 15, 15, 15, 15,
        ],
        [Z, Z, Z, Z, 4, 5, 6, 7, Z, Z, Z, Z, 8, 9, 10, 11],
        [8, Z, 8, Z, 9, Z, 9, Z, 10, Z, 10, Z, 11, Z, 11, Z],
        [12, Z, 12, Z, 13, Z, 13, Z, 14, Z, 14, Z, 15, Z, 15, Z],
    ]
};

/// Each of `lanes` repeated over `B` bytes: a `vpshufb` table for every 128 bits of a vector.
pub(crate) const fn repeat_lanes<const N: usize, const B: usize>(
    lanes: [[u8; 16]; N],
) -> [[u8; B]; N] {
    let mut t = [[0u8; B]; N];
    let mut k = 0;
    while k < N {
        let mut i = 0;
        while i < B {
            t[k][i] = lanes[k][i % 16];
            i += 1;
        }
        k += 1;
    }
    t
}

/// Whether the AVX2 and AVX-512 `Q8_K` kernels multiply these rows without the prepared buffer
/// (see `prepared::takes_direct`): as that says, and rows of any length where there are eight
/// of them to go side by side and [`DotPrefetch`] says so for this CPU.
#[inline]
pub(crate) fn takes_direct(activations: &[crate::BlockQ8K], out: &[f32]) -> bool {
    crate::arch::prepared::takes_direct(activations, out)
        || (out.len() >= 8 && DotPrefetch::for_this_cpu().short_rows_side_by_side)
}

/// The longest rows, in blocks, whose activations the AVX2 and AVX-512 `Q8_K` kernels put in
/// their lane order once per call, on the stack (256 bytes a block, so 32 KiB at most), instead
/// of once per group of rows side by side (see [`pairs_once`]): rows of up to 32768 values, the
/// 28672-value rows of a 70B model's feed-forward matrices included.
pub(crate) const ONCE_MAX_BLOCKS: usize = 128;

/// Whether the AVX2 and AVX-512 `Q8_K` kernels rearrange the activations once for all the
/// groups of `group` rows side by side: rows of up to [`ONCE_MAX_BLOCKS`] blocks, and at least
/// one whole group. On the Xeon of [`DotPrefetch`], in cache: rows of 4096 values AVX-512
/// 1.04-1.05x, AVX2 1.05-1.06x; rows of 28672 values AVX-512 about 1.05x, AVX2 1.04x.
#[inline(always)]
pub(crate) fn pairs_once(activations: &[crate::BlockQ8K], out: &[f32], group: usize) -> bool {
    activations.len() <= ONCE_MAX_BLOCKS && out.len() >= group
}

/// How the dot kernels prefetch the weights on this CPU: `one_row` where a `Q8_K` row is
/// multiplied on its own (the buffer path, `dot_q8k`), `side_by_side` where the AVX-512 kernel
/// multiplies eight rows side by side, `side_by_side_avx2` where the AVX2 kernel does, `f32` in
/// the `f32` kernels (every line: on Zen 4, 0.40x the read loop against 0.29x with none, see
/// [`PREFETCH_BYTES`]). Measured at 256 MiB, one thread, against the same kernels without the
/// change in one process:
///
/// - Zen 4 (and, unmeasured, every CPU of another vendor than Intel with AVX-512F): one line
///   per block on its own (0.97x the read loop against 0.85x with every line), none side by
///   side (one line per block and row lost a third or more), as measured in earlier rounds with
///   one hint per block (see [`prefetch_weights`] for the three repeated hints that stand for
///   it now);
/// - Zen 3 (and, unmeasured, every CPU of another vendor than Intel without AVX-512F, where
///   the AVX2 kernel is the best): every line, both ways, into L1. The AVX2 kernel there,
///   against Zen 4's choice: rows of 4096 values one by one 1.41-1.46x at 256 MiB (0.75x the
///   read loop against 0.50x), 1.02x in cache; rows of 14336 side by side 1.30-1.32x, of 28672
///   1.00-1.02x (1.02x in cache). Into L2 instead measured the same within the noise (1.41-1.49x
///   one by one). Rows of 4096 values side by side with every line, against one by one: as
///   fast, and with the later in-lane loops 1.02-1.07x in cache but 0.77x at 256 MiB, so short
///   rows stay one by one.
/// - a Sapphire Rapids-class Xeon (AMX, AVX512-FP16): every line, both ways, and into the L2
///   cache only ([`Prefetch::BlockToL2`], `prefetcht1`), for the `f32` kernels too. Against the
///   same lines into L1 (`prefetcht0`), at 256 MiB one thread: AVX-512 `matvec_q8k` on rows of
///   4096 values 1.03-1.05x (0.96x the read loop against 0.93x in one run of each, alternated),
///   rows of 28672 1.00-1.02x; AVX2 1.03-1.07x and 0.97-0.98x; AVX-512 `matvec_f32` 1.10-1.15x
///   (0.56x the read loop against 0.51x); in cache 0.97-1.00x (`dot_q8k` row by row 0.96-0.98x).
///   The demand loads then find the lines in L2, and more lines can be in flight from DRAM.
///   The AVX2 kernel's eight rows are the exception: into L1 and [`SIDE_BY_SIDE_PREFETCH_BYTES`]
///   ahead, against into L2 [`PREFETCH_BYTES`] ahead, 1.04-1.09x at 256 MiB on rows of 4096
///   values, 1.06-1.07x on rows of 14336 and 28672, and 1.06-1.10x in cache (into L2 but 1024
///   bytes ahead 1.01-1.03x at 256 MiB; into L1 at 512, 768, 1536 and 2048 bytes 0.95-1.02x).
///   The single rows keep the L2 hint: into L1 their rows of 4096 values ran 0.92-0.93x at
///   256 MiB (1.07x in cache), and 0.84-0.85x 1024 bytes ahead; the AVX-512 eight rows too:
///   into L1 0.91-0.92x at 256 MiB.
///   The earlier figures, with every line into L1: AVX-512, rows of
///   4096 values 1.22-1.28x faster than one line per block (9.9-10.3 against 7.9-8.1 GB/s,
///   where a plain read loop gets 12.3-14.2 on this CPU, with or without prefetching: one
///   core's reads are bound by the misses it keeps in flight, and a kernel that computes
///   between its loads keeps fewer unless it prefetches); rows of 28672 values side by side
///   1.17-1.19x faster than none (11.8 against 9.9-10.1; one line per block and row: 7.6). In
///   cache it measured 0.99-1.04x then, and costs 3-4% now that the loops are faster (0.96-0.97x
///   against none, rows of 4096 values): kept, as a matrix in cache is rarely the case that
///   matters.
///
/// `short_rows_side_by_side` says whether the AVX2 and AVX-512 kernels also multiply rows of up
/// to `prepared::DIRECT_MIN_ROW_BLOCKS` blocks eight side by side (else one by one through the
/// prepared buffer, see [`takes_direct`]): on the Xeon, where rows of 4096 values are then
/// faster, AVX-512 1.11-1.13x in cache and 1.05-1.07x at 256 MiB, AVX2 1.01-1.02x and 1.15x;
/// not elsewhere, where the last measurements (Zen 4, before the eight-row loops shared their
/// per-block work) had short rows read from DRAM markedly faster one by one (rows of 10240
/// values 16.9 against 12.6 GB/s).
#[derive(Clone, Copy)]
pub(crate) struct DotPrefetch {
    pub(crate) one_row: Prefetch,
    pub(crate) side_by_side: Prefetch,
    pub(crate) side_by_side_avx2: Prefetch,
    pub(crate) f32: Prefetch,
    pub(crate) short_rows_side_by_side: bool,
}

impl DotPrefetch {
    /// The choice for this CPU: by its CPUID vendor, and for other vendors than Intel by
    /// whether the CPU has AVX-512F, read once and kept.
    #[inline]
    pub(crate) fn for_this_cpu() -> DotPrefetch {
        use core::sync::atomic::{AtomicU8, Ordering};
        // 0: not read yet, 1: Intel, 2: another vendor with AVX-512F (Zen 4 and later), 3:
        // another vendor without it (Zen 3 and earlier).
        static CLASS: AtomicU8 = AtomicU8::new(0);
        let mut class = CLASS.load(Ordering::Relaxed);
        // Miri cannot run CPUID (the SSE2 `f32` kernel, which Miri runs, asks for the choice).
        if cfg!(miri) {
            class = 2;
        }
        if class == 0 {
            // SAFETY: every x86_64 CPU has CPUID, and leaf 0 (the vendor and the highest leaf)
            // always exists. (Safe to call in recent Rust; `unsafe` for the older releases the
            // MSRV covers.)
            #[allow(unused_unsafe)]
            let leaf = unsafe { core::arch::x86_64::__cpuid(0) };
            let intel = [leaf.ebx, leaf.edx, leaf.ecx] == [0x756E_6547, 0x4965_6E69, 0x6C65_746E];
            // From CPUID, as the vendor, and not `has_avx512f`: without `std` that answers what
            // was compiled in, and this choice is about the core.
            // SAFETY: as above; leaf 7 is read only where leaf 0 says it exists.
            #[allow(unused_unsafe)]
            let avx512f = leaf.eax >= 7
                && unsafe { core::arch::x86_64::__cpuid_count(7, 0) }.ebx & (1 << 16) != 0;
            class = match (intel, avx512f) {
                (true, _) => 1,
                (false, true) => 2,
                (false, false) => 3,
            };
            CLASS.store(class, Ordering::Relaxed);
        }
        match class {
            1 => DotPrefetch {
                one_row: Prefetch::BlockToL2,
                side_by_side: Prefetch::BlockToL2,
                side_by_side_avx2: Prefetch::Block,
                f32: Prefetch::BlockToL2,
                short_rows_side_by_side: true,
            },
            2 => DotPrefetch {
                one_row: Prefetch::Line,
                side_by_side: Prefetch::Off,
                side_by_side_avx2: Prefetch::Off,
                f32: Prefetch::Block,
                short_rows_side_by_side: false,
            },
            _ => DotPrefetch {
                one_row: Prefetch::Block,
                side_by_side: Prefetch::Off,
                side_by_side_avx2: Prefetch::Block,
                f32: Prefetch::Block,
                short_rows_side_by_side: false,
            },
        }
    }
}

/// Prefetches the cache lines of the weights [`PREFETCH_BYTES`] after the start of `block`
/// (a block spans at most three lines) as `how` says, [`DotPrefetch`]'s `f32`: the `f32` dot
/// kernels' hint. Only a hint: it never faults, whatever the address.
#[target_feature(enable = "sse2")]
#[inline]
pub(crate) fn prefetch_ahead(block: &BlockQ4K, how: Prefetch) {
    prefetch_weights::<PREFETCH_BYTES>(block, how, 0);
}

#[cfg(test)]
pub(crate) mod tests {
    use std::vec;
    use std::vec::Vec;

    use crate::test_rng::Rng;
    use crate::{BLOCK_BYTES, BlockQ4K, BlockQ8K, Q8K_BLOCK_BYTES, blocks, scalar};

    #[test]
    fn branchless_f16_widening_is_exact() {
        for bits in 0..=u16::MAX {
            let (got, want) = (super::f16_to_f32_branchless(bits), crate::f16_to_f32(bits));
            assert_eq!(got.to_bits(), want.to_bits(), "{bits:#06x}");
        }
    }

    /// Asserts that the Q8_K matrix-vector kernel `matvec` (called with whole rows) gives the
    /// scalar kernel's bits on random blocks (from `seed`), in shapes that cover one row, groups
    /// of eight rows side by side with a remainder, and rows that fit one prepared chunk and
    /// rows that do not. `name` names the kernel in the failure message.
    pub(crate) fn matches_scalar_dot(
        name: &str,
        seed: u64,
        matvec: impl Fn(&[BlockQ4K], &[BlockQ8K], &mut [f32]),
    ) {
        let mut rng = Rng(seed);
        // Eight or more rows of up to `ONCE_MAX_BLOCKS` blocks take the activations rearranged
        // once per call; longer rows rearrange them per group.
        let once = super::ONCE_MAX_BLOCKS;
        // Thirteen and fifteen rows: five and seven left over from a group of eight, which go as
        // one more group overlapping the first.
        let shapes = [
            (1, 1),
            // Single rows on either side of the AVX-512 one-row loops' split (five blocks), and
            // over several chunks of eight blocks.
            (1, 5),
            (1, 6),
            (1, 19),
            (5, 3),
            (9, 2),
            (2, 65),
            (3, 130),
            (17, 65),
            (13, 65),
            (15, 2),
        ];
        for (rows, row_blocks) in shapes.into_iter().chain([(8, once), (9, once + 1)]) {
            let mut bytes = vec![0u8; rows * row_blocks * BLOCK_BYTES];
            for block in bytes.chunks_exact_mut(BLOCK_BYTES) {
                rng.block(block);
                if row_blocks > 3 {
                    // Ordinary f16 scales (about 1e-3..1e-1), so that long rows do not all end
                    // in NaN or infinity.
                    for field in [0, 2] {
                        let bits = 0x1400 + (rng.next() % 0x1000) as u16;
                        block[field..field + 2].copy_from_slice(&bits.to_le_bytes());
                    }
                }
            }
            let weights: &[BlockQ4K] = blocks(&bytes).unwrap();
            let activations: Vec<BlockQ8K> = (0..row_blocks)
                .map(|_| {
                    let mut b = [0u8; Q8K_BLOCK_BYTES];
                    rng.fill(&mut b);
                    // A finite, ordinary scale (the float path is the same in every kernel).
                    b[..4].copy_from_slice(&(rng.next() as f32 / u64::MAX as f32).to_le_bytes());
                    let (quants, bsums) = b[4..].split_at_mut(256);
                    match rng.next() % 3 {
                        // Block sums made up, mostly far beyond what `quantize_q8k` writes.
                        0 => {}
                        // The block sums of the quants, as `quantize_q8k` writes them.
                        1 => {
                            for (sum, q) in bsums.chunks_exact_mut(2).zip(quants.chunks_exact(16)) {
                                let s: i16 = q.iter().map(|&q| i16::from(q as i8)).sum();
                                sum.copy_from_slice(&s.to_le_bytes());
                            }
                        }
                        // Sub-block sums (`bsums[2j] + bsums[2j + 1]`) at the edges of the
                        // range some kernels take apart in bytes, `-8192..8192`, and in it.
                        _ => {
                            for pair in bsums.chunks_exact_mut(4) {
                                let sum =
                                    [-8193, -8192, 8191, 8192, -1, 0][rng.next() as usize % 6];
                                let first = (rng.next() % 4001) as i16 - 2000;
                                pair[..2].copy_from_slice(&first.to_le_bytes());
                                pair[2..].copy_from_slice(&(sum - first).to_le_bytes());
                            }
                        }
                    }
                    BlockQ8K::from_bytes(b)
                })
                .collect();
            let mut expected = vec![0f32; rows];
            scalar::dot::matvec(weights, &activations, &mut expected);
            if row_blocks > 3 {
                assert!(expected.iter().all(|x| x.is_finite()), "{expected:?}");
            }
            let mut got = vec![0f32; rows];
            matvec(weights, &activations, &mut got);
            // Bits, with every NaN alike (its payload may differ between kernels).
            let bits = |v: &[f32]| {
                v.iter()
                    .map(|x| if x.is_nan() { u32::MAX } else { x.to_bits() })
                    .collect::<Vec<_>>()
            };
            assert_eq!(bits(&got), bits(&expected), "{name}, {rows} x {row_blocks}");
        }
    }
}
