//! The AVX-512 half kernel (AVX-512F and AVX-512BW): one 32-entry table of 16-bit values per
//! pair of sub-blocks, looked up with `vpermw`.
//!
//! Each block builds the eight 16-entry `f32` tables of the f32 kernel and rounds them, two
//! sub-blocks to a vector: binary16 with `vcvtps2ph`, bfloat16 with `vcvtne2ps2bf16` where the
//! CPU has AVX512-BF16 and with an exact integer rounding otherwise. The rounding costs 128
//! conversions per block instead of 256, and the conversion of a table entry is the conversion
//! of every value that takes it, so the bits are those of rounding each decoded `f32`.
//!
//! With AVX512-BF16, `vcvtne2ps2bf16` rounds the tables of sub-blocks `2g` and `2g + 1` into
//! one vector, the later one's entries in lanes 0..16 and the earlier one's in lanes 16..32.
//! `vpermw` reads five index bits, so a quant byte widened to 16 bits indexes the earlier
//! sub-block's entries once bit 4 is set (the bits above are ignored) and the later one's after
//! a shift right by four. The other roundings give one 16-entry vector per sub-block, and
//! `vpermt2w` looks the pair up without merging them first (index bit 5 picks the later table):
//! the low nibble masked, the high nibble shifted with bit 5 set. Either way: two index
//! instructions and two lookups per 64 values, one 64-byte store per 32 values.
//!
//! Streaming stores need 64-byte aligned addresses. An output that does not start on a 64-byte
//! boundary is then written in aligned vectors, each merged from two consecutive results by one
//! `vpermt2w`, with masked stores for the head and the tail.

use core::arch::x86_64::*;

use crate::arch::x86_64::avx512::decode::tables;
use crate::decode_half::Half;
use crate::{BLOCK_VALUES, BlockQ4K};

/// 16-bit values per vector, and per 64-byte cache line.
const LANES: usize = 32;

/// Rounding of the tables: binary16 by `vcvtps2ph`.
const F16: u8 = 0;
/// Rounding of the tables: bfloat16 by `vcvtne2ps2bf16` (AVX512-BF16).
const BF16_NATIVE: u8 = 1;
/// Rounding of the tables: bfloat16 by integer arithmetic.
const BF16_INTEGER: u8 = 2;

/// Decodes `min(blocks.len(), out.len() / 256)` blocks into `out`, with non-temporal stores if
/// `streaming`; bfloat16 with `vcvtne2ps2bf16` if `bf16`.
///
/// # Safety
///
/// The CPU must support AVX-512F and AVX-512BW, and AVX512-BF16 if `bf16`.
#[target_feature(enable = "avx512f,avx512bw")]
pub(crate) unsafe fn decode(
    blocks: &[BlockQ4K],
    out: &mut [u16],
    half: Half,
    streaming: bool,
    bf16: bool,
) {
    debug_assert_eq!(out.len(), blocks.len() * BLOCK_VALUES);
    let count = blocks.len().min(out.len() / BLOCK_VALUES);
    let blocks = &blocks[..count];
    let dst = out.as_mut_ptr();
    let shift = (dst as usize % 64) / 2;
    let realign = shift != 0 && streaming;
    // SAFETY: AVX-512F and BW are enabled here, AVX512-BF16 is present if `bf16`; `dst` has
    // room for `256 * blocks.len()` values and lies `shift` values past a 64-byte boundary.
    unsafe {
        match (half, bf16) {
            (Half::F16, _) => decode_with::<F16>(blocks, dst, shift, streaming, realign),
            (Half::Bf16, true) => decode_bf16_native(blocks, dst, shift, streaming, realign),
            (Half::Bf16, false) => {
                decode_with::<BF16_INTEGER>(blocks, dst, shift, streaming, realign)
            }
        }
    }
    if streaming {
        // Orders the non-temporal stores before any later store, as ordinary stores are.
        _mm_sfence();
    }
}

/// The block loops with the rounding `MODE` (not [`BF16_NATIVE`]).
///
/// # Safety
///
/// As [`blocks_loop`].
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn decode_with<const MODE: u8>(
    blocks: &[BlockQ4K],
    dst: *mut u16,
    shift: usize,
    streaming: bool,
    realign: bool,
) {
    // SAFETY: forwarded from the caller; the features are enabled here.
    unsafe {
        match (streaming, realign) {
            (false, false) => blocks_loop::<MODE, false, false>(blocks, dst, shift),
            (false, true) => blocks_loop::<MODE, false, true>(blocks, dst, shift),
            (true, false) => blocks_loop::<MODE, true, false>(blocks, dst, shift),
            (true, true) => blocks_loop::<MODE, true, true>(blocks, dst, shift),
        }
    }
}

/// The block loops rounding to bfloat16 with AVX512-BF16.
///
/// # Safety
///
/// As [`blocks_loop`], and the CPU must support AVX512-BF16.
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn decode_bf16_native(
    blocks: &[BlockQ4K],
    dst: *mut u16,
    shift: usize,
    streaming: bool,
    realign: bool,
) {
    const MODE: u8 = BF16_NATIVE;
    // SAFETY: forwarded from the caller; the features are enabled here.
    unsafe {
        match (streaming, realign) {
            (false, false) => blocks_loop::<MODE, false, false>(blocks, dst, shift),
            (false, true) => blocks_loop::<MODE, false, true>(blocks, dst, shift),
            (true, false) => blocks_loop::<MODE, true, false>(blocks, dst, shift),
            (true, true) => blocks_loop::<MODE, true, true>(blocks, dst, shift),
        }
    }
}

/// The block loop: tables, lookups, stores. Inlined into its callers, which supply the target
/// features.
///
/// # Safety
///
/// The CPU must support AVX-512F and AVX-512BW, and AVX512-BF16 if `MODE` is [`BF16_NATIVE`];
/// `dst` must be valid for writes of `256 * blocks.len()` values and lie `shift` values past a
/// 64-byte boundary; if `STREAM` and not `REALIGN`, `shift` must be 0.
#[inline(always)]
unsafe fn blocks_loop<const MODE: u8, const STREAM: bool, const REALIGN: bool>(
    blocks: &[BlockQ4K],
    dst: *mut u16,
    shift: usize,
) {
    // SAFETY: the features are the caller's; the writer has room for every block's values.
    unsafe {
        let mut writer = Writer::<STREAM, REALIGN>::new(dst, shift);
        let sixteen = _mm512_set1_epi16(16);
        let fifteen = _mm512_set1_epi16(15);
        let thirty_two = _mm512_set1_epi16(32);
        for (i, block) in blocks.iter().enumerate() {
            let pairs = half_tables::<MODE>(block);
            let quants = block.quants().as_ptr();
            for (g, &(earlier, later)) in pairs.iter().enumerate() {
                // `32 * g + 32 <= 128`: the load stays inside the quants.
                let bytes = _mm256_loadu_si256(quants.add(32 * g).cast());
                let wide = _mm512_cvtepu8_epi16(bytes);
                let (low, high) = if MODE == BF16_NATIVE {
                    (
                        _mm512_permutexvar_epi16(_mm512_or_si512(wide, sixteen), earlier),
                        _mm512_permutexvar_epi16(_mm512_srli_epi16::<4>(wide), earlier),
                    )
                } else {
                    (
                        _mm512_permutex2var_epi16(earlier, _mm512_and_si512(wide, fifteen), later),
                        _mm512_permutex2var_epi16(
                            earlier,
                            _mm512_or_si512(_mm512_srli_epi16::<4>(wide), thirty_two),
                            later,
                        ),
                    )
                };
                if i == 0 && g == 0 {
                    writer.head(low);
                } else {
                    writer.put(low);
                }
                writer.put(high);
            }
        }
        if !blocks.is_empty() {
            writer.finish();
        }
    }
}

/// The rounded tables of a block's four pairs of sub-blocks `(2g, 2g + 1)`: for
/// [`BF16_NATIVE`] one vector, twice, holding sub-block `2g + 1`'s 16 values in lanes 0..16 and
/// sub-block `2g`'s in lanes 16..32; otherwise each sub-block's 16 values in lanes 0..16 of its
/// own vector (the other lanes are never indexed).
///
/// # Safety
///
/// The CPU must support AVX-512F and AVX-512BW, and AVX512-BF16 if `MODE` is [`BF16_NATIVE`].
#[inline(always)]
unsafe fn half_tables<const MODE: u8>(block: &BlockQ4K) -> [(__m512i, __m512i); 4] {
    // SAFETY: the caller guarantees the features.
    unsafe {
        let f32_tables = tables(block);
        // A loop, not `array::from_fn`: its closure would not inherit the caller's target
        // features, and in some builds was compiled apart with every intrinsic a call.
        let mut out = [(_mm512_setzero_si512(), _mm512_setzero_si512()); 4];
        for (g, out) in out.iter_mut().enumerate() {
            let (earlier, later) = (f32_tables[2 * g], f32_tables[2 * g + 1]);
            *out = match MODE {
                F16 => {
                    const ROUND: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
                    (
                        _mm512_castsi256_si512(_mm512_cvtps_ph::<ROUND>(earlier)),
                        _mm512_castsi256_si512(_mm512_cvtps_ph::<ROUND>(later)),
                    )
                }
                BF16_NATIVE => {
                    let both = core::mem::transmute::<__m512bh, __m512i>(_mm512_cvtne2ps_pbh(
                        earlier, later,
                    ));
                    (both, both)
                }
                _ => (
                    _mm512_castsi256_si512(bf16_bits(earlier)),
                    _mm512_castsi256_si512(bf16_bits(later)),
                ),
            };
        }
        out
    }
}

/// Sixteen `f32` rounded to bfloat16 bits by integer arithmetic, exactly as
/// `f32_to_bf16_bits`: add `0x7FFF` plus the lowest kept bit, keep the top half; a NaN keeps
/// its top half with the quiet bit set.
///
/// # Safety
///
/// The CPU must support AVX-512F.
#[inline(always)]
unsafe fn bf16_bits(v: __m512) -> __m256i {
    // SAFETY: the caller guarantees AVX-512F.
    unsafe {
        let bits = _mm512_castps_si512(v);
        let top = _mm512_srli_epi32::<16>(bits);
        let odd = _mm512_and_si512(top, _mm512_set1_epi32(1));
        let biased = _mm512_add_epi32(bits, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7FFF)));
        let rounded = _mm512_srli_epi32::<16>(biased);
        let magnitude = _mm512_and_si512(bits, _mm512_set1_epi32(0x7FFF_FFFF));
        let nan = _mm512_cmpgt_epi32_mask(magnitude, _mm512_set1_epi32(0x7F80_0000));
        let quiet = _mm512_or_si512(top, _mm512_set1_epi32(0x40));
        _mm512_cvtepi32_epi16(_mm512_mask_mov_epi32(rounded, nan, quiet))
    }
}

/// Writes a sequence of 32-value vectors to consecutive output positions. If `REALIGN`, every
/// full store is 64-byte aligned: each is merged from the previous vector and this one.
struct Writer<const STREAM: bool, const REALIGN: bool> {
    /// Where the next full store goes.
    next: *mut u16,
    /// The previous vector (`REALIGN` only); its last `shift` lanes are not written yet.
    previous: __m512i,
    /// `vpermt2w` indices (`REALIGN` only): lane `i` takes `(i - shift) mod 64` of the pair
    /// (this vector, previous vector).
    rotate: __m512i,
    /// Lanes `shift..32` set: those of an aligned vector that come from the newer vector.
    newer: __mmask32,
}

impl<const STREAM: bool, const REALIGN: bool> Writer<STREAM, REALIGN> {
    /// A writer for the output at `dst`, `shift` values (0..32) past a 64-byte boundary.
    ///
    /// # Safety
    ///
    /// AVX-512F and AVX-512BW.
    #[inline(always)]
    unsafe fn new(dst: *mut u16, shift: usize) -> Self {
        let newer = !0u32 << shift;
        // SAFETY: the caller guarantees the features.
        unsafe {
            let lanes = _mm512_set_epi16(
                31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11,
                10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
            );
            Writer {
                next: if REALIGN {
                    dst.wrapping_sub(shift)
                } else {
                    dst
                },
                previous: _mm512_setzero_si512(),
                rotate: _mm512_and_si512(
                    _mm512_sub_epi16(lanes, _mm512_set1_epi16(shift as i16)),
                    _mm512_set1_epi16(63),
                ),
                newer,
            }
        }
    }

    /// Stores one full vector at `next` and moves on.
    ///
    /// # Safety
    ///
    /// AVX-512F; `next` valid for 32 values, 64-byte aligned if `STREAM`.
    #[inline(always)]
    unsafe fn store(&mut self, v: __m512i) {
        // SAFETY: the caller guarantees the room, and the alignment when streaming.
        unsafe {
            if STREAM {
                _mm512_stream_si512(self.next.cast(), v);
            } else {
                _mm512_storeu_si512(self.next.cast(), v);
            }
        }
        self.next = self.next.wrapping_add(LANES);
    }

    /// Takes the first vector of the output.
    ///
    /// # Safety
    ///
    /// AVX-512F and BW; called once, first, with room for the whole output.
    #[inline(always)]
    unsafe fn head(&mut self, v: __m512i) {
        // SAFETY: the caller guarantees the features and the room.
        unsafe {
            if REALIGN {
                // Lanes `shift..32` of the aligned vector at `next` are the first
                // `32 - shift` output values.
                let merged = _mm512_permutex2var_epi16(v, self.rotate, self.previous);
                _mm512_mask_storeu_epi16(self.next.cast(), self.newer, merged);
                self.next = self.next.wrapping_add(LANES);
                self.previous = v;
            } else {
                self.store(v);
            }
        }
    }

    /// Takes the next vector of the output.
    ///
    /// # Safety
    ///
    /// AVX-512F and BW; `head` was called, and the output has room for this vector.
    #[inline(always)]
    unsafe fn put(&mut self, v: __m512i) {
        // SAFETY: the caller guarantees the features and the room; when realigning, `next` is
        // 64-byte aligned and its 32 values are the last `shift` of the previous vector and the
        // first `32 - shift` of this one, all inside the output.
        unsafe {
            if REALIGN {
                let merged = _mm512_permutex2var_epi16(v, self.rotate, self.previous);
                self.previous = v;
                self.store(merged);
            } else {
                self.store(v);
            }
        }
    }

    /// Writes what is left of the last vector.
    ///
    /// # Safety
    ///
    /// AVX-512F and BW; every vector of a non-empty output has been taken.
    #[inline(always)]
    unsafe fn finish(self) {
        if REALIGN {
            // SAFETY: lanes `0..shift` at `next` are the last `shift` output values; the
            // others are masked off and not written.
            unsafe {
                let merged =
                    _mm512_permutex2var_epi16(_mm512_setzero_si512(), self.rotate, self.previous);
                _mm512_mask_storeu_epi16(self.next.cast(), !self.newer, merged);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::vec;

    use super::decode;
    use crate::decode_half::Half;
    use crate::test_rng::Rng;
    use crate::{BLOCK_BYTES, BLOCK_VALUES, blocks, scalar};

    /// The integer bfloat16 rounding is what CPUs without AVX512-BF16 run: test it here even
    /// where the CPU has the instruction, against the scalar kernel (NaN matches NaN).
    #[test]
    #[cfg_attr(miri, ignore = "Miri cannot execute SIMD intrinsics")]
    fn bf16_integer_and_native_paths_match_scalar() {
        let has = |f: &str| match f {
            "bw" => crate::arch::x86_64::has_avx512bw(),
            _ => crate::arch::x86_64::has_avx512bf16(),
        };
        if !crate::arch::x86_64::has_avx512f() || !has("bw") {
            std::eprintln!("no AVX-512F/BW here: skipped");
            return;
        }
        let native = [false, has("bf16")];
        std::eprintln!(
            "AVX-512 bfloat16 paths tested: integer, native: {}",
            native[1]
        );
        let mut rng = Rng(0x1234_5678_9ABC_DEF1);
        let count = 9;
        let mut raw = vec![0u8; count * BLOCK_BYTES];
        let mut expected = vec![0u16; count * BLOCK_VALUES];
        let mut buffer = vec![0u16; count * BLOCK_VALUES + 64];
        let nan = |bits: u16| bits & 0x7F80 == 0x7F80 && bits & 0x007F != 0;
        for _ in 0..20 {
            for block in raw.chunks_exact_mut(BLOCK_BYTES) {
                rng.block(block);
            }
            let input = blocks(&raw).unwrap();
            scalar::decode_half::decode_blocks(input, &mut expected, Half::Bf16);
            for bf16 in native {
                for offset in [0, 1, 7, 31] {
                    for streaming in [false, true] {
                        let start = buffer.as_ptr().align_offset(64) + offset;
                        let out = &mut buffer[start..start + count * BLOCK_VALUES];
                        // SAFETY: AVX-512F and BW were detected above, and AVX512-BF16 where
                        // `bf16` is set.
                        unsafe { decode(input, out, Half::Bf16, streaming, bf16) };
                        for (i, (&got, &want)) in out.iter().zip(&expected).enumerate() {
                            assert!(
                                got == want || (nan(got) && nan(want)),
                                "native {bf16} offset {offset} streaming {streaming} value {i}: \
                                 got {got:#06x}, want {want:#06x}"
                            );
                        }
                    }
                }
            }
        }
    }
}
