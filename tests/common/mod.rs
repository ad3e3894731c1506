//! Helpers shared by the integration tests: the kernels to run, an independent decoder written
//! from docs/format.md, and bit-exact comparison.
#![allow(dead_code)]

pub mod llama;

use q4k::Kernel;

/// Every kernel that can run here, printed so that a silent fallback to fewer kernels shows in
/// the test log.
pub fn available_kernels(test: &str) -> Vec<Kernel> {
    let kernels = kernels_here();
    let names: Vec<&str> = kernels.iter().map(|k| k.name()).collect();
    eprintln!(
        "{test}: kernels {names:?} (best: {}, unavailable: {:?})",
        Kernel::best(),
        unavailable_kernels()
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
    );
    assert!(
        kernels.contains(&Kernel::Scalar),
        "the scalar kernel must always be available"
    );
    kernels
}

/// Prints the kernels and the sub-features the dispatch picks inside a family for the dot
/// product (AVX512-VNNI, NEON dotprod), so that a silent fallback shows in the log.
pub fn dot_kernels(test: &str) -> Vec<Kernel> {
    let kernels = available_kernels(test);
    #[cfg(target_arch = "x86_64")]
    eprintln!(
        "{test}: avx512bw {}, avx512vnni {} (the avx512 dot needs both, else runs avx2)",
        std::is_x86_feature_detected!("avx512bw"),
        std::is_x86_feature_detected!("avx512vnni")
    );
    #[cfg(target_arch = "aarch64")]
    eprintln!(
        "{test}: dotprod {} (the neon dot uses SDOT with it)",
        std::arch::is_aarch64_feature_detected!("dotprod")
    );
    kernels
}

/// The kernels available here, without printing (the tests print them once).
pub fn kernels_here() -> Vec<Kernel> {
    Kernel::ALL
        .iter()
        .copied()
        .filter(|k| k.is_available())
        .collect()
}

/// A rayon pool of `threads` threads.
#[cfg(feature = "parallel")]
pub fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

/// Every kernel that cannot run here.
pub fn unavailable_kernels() -> Vec<Kernel> {
    Kernel::ALL
        .iter()
        .copied()
        .filter(|k| !k.is_available())
        .collect()
}

/// `2^exponent` in f64, exactly: built from its bits, since `powi` need not be exact (and is
/// deliberately imprecise under Miri).
fn pow2(exponent: i32) -> f64 {
    f64::from_bits(((exponent + 1023) as u64) << 52)
}

/// f16 bits to f32, built from sign, exponent and significand in f64 (NaN payloads moved into
/// the top of the f32 significand, as IEEE 754 widening does).
pub fn f16_reference(bits: u16) -> f32 {
    let negative = bits & 0x8000 != 0;
    let exponent = i32::from((bits >> 10) & 0x1F);
    let significand = u32::from(bits & 0x03FF);
    let magnitude = match exponent {
        0 => f64::from(significand) * pow2(-24),
        31 if significand == 0 => f64::INFINITY,
        31 => {
            let sign = if negative { 0x8000_0000 } else { 0 };
            return f32::from_bits(sign | 0x7F80_0000 | (significand << 13));
        }
        _ => (1024.0 + f64::from(significand)) * pow2(exponent - 25),
    };
    (if negative { -magnitude } else { magnitude }) as f32
}

/// The eight 6-bit scales and eight 6-bit mins, unpacked as docs/format.md describes.
pub fn unpack_scales(s: &[u8]) -> ([u8; 8], [u8; 8]) {
    assert_eq!(s.len(), 12);
    let mut sc = [0u8; 8];
    let mut m = [0u8; 8];
    for j in 0..4 {
        sc[j] = s[j] & 63;
        m[j] = s[j + 4] & 63;
    }
    for j in 4..8 {
        sc[j] = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
        m[j] = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
    (sc, m)
}

/// The 4-bit quant of output `index` (0..256): group `index / 64` reads bytes
/// `32 * g .. 32 * g + 32`, low nibbles first, then high nibbles.
pub fn quant_reference(qs: &[u8], index: usize) -> u8 {
    assert_eq!(qs.len(), 128);
    let g = index / 64;
    let l = index % 32;
    let byte = qs[32 * g + l];
    if index % 64 < 32 {
        byte & 0x0F
    } else {
        byte >> 4
    }
}

/// Sub-block (0..8) of output `index`.
pub fn sub_block(index: usize) -> usize {
    index / 32
}

/// One block decoded with the formula of docs/format.md, `(d * sc) * q - dmin * m` in f32, no fusing.
pub fn decode_reference(block: &[u8]) -> [f32; 256] {
    assert_eq!(block.len(), 144);
    let d = f16_reference(u16::from_le_bytes([block[0], block[1]]));
    let dmin = f16_reference(u16::from_le_bytes([block[2], block[3]]));
    let (sc, m) = unpack_scales(&block[4..16]);
    let qs = &block[16..144];
    let mut out = [0f32; 256];
    for (i, y) in out.iter_mut().enumerate() {
        let s = sub_block(i);
        let scale = d * f32::from(sc[s]);
        let min = dmin * f32::from(m[s]);
        *y = scale * f32::from(quant_reference(qs, i)) - min;
    }
    out
}

/// Many blocks decoded with [`decode_reference`].
pub fn decode_reference_all(bytes: &[u8]) -> Vec<f32> {
    assert!(bytes.len().is_multiple_of(144));
    bytes.chunks_exact(144).flat_map(decode_reference).collect()
}

/// Whether `got` is an acceptable result where `want` is expected: the same bits, or both NaN.
pub fn same(got: f32, want: f32) -> bool {
    if want.is_nan() {
        got.is_nan()
    } else {
        got.to_bits() == want.to_bits()
    }
}

/// The first index where `got` and `want` differ (bit for bit; NaN matches any NaN), if any.
pub fn first_difference(got: &[f32], want: &[f32]) -> Option<usize> {
    if got.len() != want.len() {
        return Some(got.len().min(want.len()));
    }
    got.iter().zip(want).position(|(&g, &w)| !same(g, w))
}

/// Panics with the block, value and both bit patterns of the first difference.
#[track_caller]
pub fn assert_same(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    if let Some(i) = first_difference(got, want) {
        let count = got
            .iter()
            .zip(want)
            .filter(|(g, w)| !same(**g, **w))
            .count();
        panic!(
            "{what}: {count} values differ; first at value {i} (block {}, index {}): \
             got {:?} ({:#010x}), want {:?} ({:#010x})",
            i / 256,
            i % 256,
            got[i],
            got[i].to_bits(),
            want[i],
            want[i].to_bits(),
        );
    }
}

/// A bit pattern that no decode of these tests produces by accident in the guard cells.
pub const SENTINEL_BITS: u32 = 0xA5A5_5A5A;

/// A buffer of `len` sentinel values.
pub fn sentinel_vec(len: usize) -> Vec<f32> {
    vec![f32::from_bits(SENTINEL_BITS); len]
}

/// Panics unless every value of `values` still holds the sentinel bits.
#[track_caller]
pub fn assert_untouched(values: &[f32], what: &str) {
    if let Some(i) = values.iter().position(|v| v.to_bits() != SENTINEL_BITS) {
        panic!(
            "{what}: value {i} of {} was written ({:#010x})",
            values.len(),
            values[i].to_bits()
        );
    }
}

/// A byte buffer starting on a 64-byte boundary, so that an offset into it is a known
/// misalignment.
#[repr(C, align(64))]
pub struct AlignedBytes<const N: usize>(pub [u8; N]);

/// An `f32` buffer starting on a 64-byte boundary.
#[repr(C, align(64))]
pub struct AlignedF32<const N: usize>(pub [f32; N]);

/// Deterministic pseudo-random bytes (SplitMix64), for tests that need data without the
/// committed vectors.
pub fn pseudo_random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        for byte in z.to_le_bytes() {
            if out.len() < len {
                out.push(byte);
            }
        }
    }
    out
}

/// `count` pseudo-random blocks with finite, realistic `d` and `dmin` (f16 in roughly
/// 2^-10..2^-4) and random scales and quants.
pub fn realistic_blocks(seed: u64, count: usize) -> Vec<u8> {
    let mut bytes = pseudo_random_bytes(seed, count * 144);
    for block in bytes.chunks_exact_mut(144) {
        // Exponent field 5..=11 (2^-10..2^-4), any significand, sign clear.
        for field in [0usize, 2] {
            let exponent = 5 + u16::from(block[field + 1] % 7);
            let bits =
                (exponent << 10) | (u16::from_le_bytes([block[field], block[field + 1]]) & 0x3FF);
            block[field..field + 2].copy_from_slice(&bits.to_le_bytes());
        }
    }
    bytes
}

/// Property-test cases: `Q4K_QUICKCHECK_TESTS`, else `QUICKCHECK_TESTS`, else 200.
pub fn case_count() -> u64 {
    ["Q4K_QUICKCHECK_TESTS", "QUICKCHECK_TESTS"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok()?.trim().parse().ok())
        .unwrap_or(200)
}

/// Runs a quickcheck property for [`case_count`] cases, printing the count.
pub fn check<A: quickcheck::Testable>(test: &str, property: A) {
    let n = case_count();
    eprintln!("{test}: {n} cases");
    quickcheck::QuickCheck::new()
        .tests(n)
        .max_tests(n.saturating_mul(10).max(n))
        .quickcheck(property);
}
