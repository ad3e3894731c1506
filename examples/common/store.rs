//! Store baselines: the fastest way to write a given number of `f32`s, with ordinary and with
//! streaming (non-temporal) stores. Shared by the `performance_parity` example and the
//! `quantize` benchmark; a decoder cannot write its output faster than these loops.

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

/// Which instruction set the baselines use.
#[derive(Clone, Copy)]
pub enum Isa {
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx,
    #[cfg(target_arch = "x86_64")]
    Sse2,
    #[cfg(not(target_arch = "x86_64"))]
    Portable,
}

impl Isa {
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                Isa::Avx512
            } else if std::arch::is_x86_feature_detected!("avx") {
                Isa::Avx
            } else {
                Isa::Sse2
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Isa::Portable
    }

    pub fn describe(self) -> &'static str {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => "_mm512_storeu_ps / _mm512_stream_ps (AVX-512F)",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx => "_mm256_storeu_ps / _mm256_stream_ps (AVX)",
            #[cfg(target_arch = "x86_64")]
            Isa::Sse2 => "_mm_storeu_ps / _mm_stream_ps (SSE2)",
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Portable => {
                "slice fill (no streaming store on this architecture: both baselines are plain)"
            }
        }
    }

    /// Writes `value` to every element with ordinary stores.
    pub fn plain(self, out: &mut [f32], value: f32) {
        match self {
            // SAFETY: `detect` chose this variant only after seeing AVX-512F on this CPU.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { plain_avx512(out, value) },
            // SAFETY: `detect` chose this variant only after seeing AVX on this CPU.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx => unsafe { plain_avx(out, value) },
            // SAFETY: SSE2 is part of the x86_64 baseline, present on every such CPU.
            #[cfg(target_arch = "x86_64")]
            Isa::Sse2 => unsafe { plain_sse2(out, value) },
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Portable => out.fill(value),
        }
    }

    /// Writes `value` to every element with non-temporal stores where the ISA has them.
    pub fn stream(self, out: &mut [f32], value: f32) {
        match self {
            // SAFETY: `detect` chose this variant only after seeing AVX-512F on this CPU.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { stream_avx512(out, value) },
            // SAFETY: `detect` chose this variant only after seeing AVX on this CPU.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx => unsafe { stream_avx(out, value) },
            // SAFETY: SSE2 is part of the x86_64 baseline, present on every such CPU.
            #[cfg(target_arch = "x86_64")]
            Isa::Sse2 => unsafe { stream_sse2(out, value) },
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Portable => out.fill(value),
        }
    }
}

/// Splits `out` into an unaligned head, `ALIGN`-byte aligned chunks of `N` floats, and a tail.
#[cfg(target_arch = "x86_64")]
fn split_aligned<const N: usize>(
    out: &mut [f32],
    align: usize,
) -> (&mut [f32], &mut [[f32; N]], &mut [f32]) {
    let head = out.as_ptr().align_offset(align).min(out.len());
    let (head, rest) = out.split_at_mut(head);
    let (chunks, tail) = rest.as_chunks_mut::<N>();
    (head, chunks, tail)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn plain_avx512(out: &mut [f32], value: f32) {
    let v = _mm512_set1_ps(value);
    let (chunks, tail) = out.as_chunks_mut::<16>();
    for chunk in chunks {
        // SAFETY: `chunk` is 16 writable f32s; the unaligned store has no alignment need.
        unsafe { _mm512_storeu_ps(chunk.as_mut_ptr(), v) };
    }
    tail.fill(value);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn stream_avx512(out: &mut [f32], value: f32) {
    let v = _mm512_set1_ps(value);
    let (head, chunks, tail) = split_aligned::<16>(out, 64);
    head.fill(value);
    for chunk in chunks {
        // SAFETY: `chunk` is 16 writable f32s starting on a 64-byte boundary.
        unsafe { _mm512_stream_ps(chunk.as_mut_ptr(), v) };
    }
    tail.fill(value);
    _mm_sfence();
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn plain_avx(out: &mut [f32], value: f32) {
    let v = _mm256_set1_ps(value);
    let (chunks, tail) = out.as_chunks_mut::<8>();
    for chunk in chunks {
        // SAFETY: `chunk` is 8 writable f32s; the unaligned store has no alignment need.
        unsafe { _mm256_storeu_ps(chunk.as_mut_ptr(), v) };
    }
    tail.fill(value);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn stream_avx(out: &mut [f32], value: f32) {
    let v = _mm256_set1_ps(value);
    let (head, chunks, tail) = split_aligned::<8>(out, 32);
    head.fill(value);
    for chunk in chunks {
        // SAFETY: `chunk` is 8 writable f32s starting on a 32-byte boundary.
        unsafe { _mm256_stream_ps(chunk.as_mut_ptr(), v) };
    }
    tail.fill(value);
    _mm_sfence();
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn plain_sse2(out: &mut [f32], value: f32) {
    let v = _mm_set1_ps(value);
    let (chunks, tail) = out.as_chunks_mut::<4>();
    for chunk in chunks {
        // SAFETY: `chunk` is 4 writable f32s; the unaligned store has no alignment need.
        unsafe { _mm_storeu_ps(chunk.as_mut_ptr(), v) };
    }
    tail.fill(value);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn stream_sse2(out: &mut [f32], value: f32) {
    let v = _mm_set1_ps(value);
    let (head, chunks, tail) = split_aligned::<4>(out, 16);
    head.fill(value);
    for chunk in chunks {
        // SAFETY: `chunk` is 4 writable f32s starting on a 16-byte boundary.
        unsafe { _mm_stream_ps(chunk.as_mut_ptr(), v) };
    }
    tail.fill(value);
    _mm_sfence();
}
