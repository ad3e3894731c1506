//! What the matrix-vector examples share: the read-only limit they compare against (every
//! weight byte read once with the widest loads the CPU has, folded into one register) and the
//! summary of a contender's samples.

/// Median and extremes of a contender's samples.
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// The median, min and max of `samples` (not empty).
pub fn stats(mut samples: Vec<f64>) -> Stats {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    Stats {
        median: samples[n / 2],
        min: samples[0],
        max: samples[n - 1],
    }
}

/// Reads every byte once with the widest loads the CPU has, folding them into one register.
pub fn read_all(bytes: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F was detected on this CPU.
            return unsafe { read_avx512(bytes) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 was detected on this CPU.
            return unsafe { read_avx2(bytes) };
        }
    }
    bytes
        .chunks_exact(8)
        .fold(0, |acc, c| acc ^ u64::from_le_bytes(c.try_into().unwrap()))
}

/// # Safety
///
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn read_avx512(bytes: &[u8]) -> u64 {
    use core::arch::x86_64::*;
    let mut acc = [_mm512_setzero_si512(); 4];
    let (lines, _) = bytes.as_chunks::<256>();
    for line in lines {
        for (k, acc) in acc.iter_mut().enumerate() {
            // SAFETY: `64 * k + 64 <= 256`: the load stays inside `line`.
            let v = unsafe { _mm512_loadu_si512(line.as_ptr().add(64 * k).cast()) };
            *acc = _mm512_xor_si512(*acc, v);
        }
    }
    let all = _mm512_xor_si512(
        _mm512_xor_si512(acc[0], acc[1]),
        _mm512_xor_si512(acc[2], acc[3]),
    );
    _mm512_reduce_add_epi64(all) as u64
}

/// # Safety
///
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn read_avx2(bytes: &[u8]) -> u64 {
    use core::arch::x86_64::*;
    let mut acc = [_mm256_setzero_si256(); 4];
    let (lines, _) = bytes.as_chunks::<128>();
    for line in lines {
        for (k, acc) in acc.iter_mut().enumerate() {
            // SAFETY: `32 * k + 32 <= 128`: the load stays inside `line`.
            let v = unsafe { _mm256_loadu_si256(line.as_ptr().add(32 * k).cast()) };
            *acc = _mm256_xor_si256(*acc, v);
        }
    }
    let all = _mm256_xor_si256(
        _mm256_xor_si256(acc[0], acc[1]),
        _mm256_xor_si256(acc[2], acc[3]),
    );
    _mm256_extract_epi64::<0>(all) as u64 ^ _mm256_extract_epi64::<3>(all) as u64
}
