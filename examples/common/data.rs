//! Benchmark data shared by the examples: a small random generator and realistic random Q4_K
//! blocks.
#![allow(dead_code)] // each example uses part of it

use q4k::BLOCK_BYTES;

/// xorshift64*: small, fast, and good enough for benchmark data.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A positive f16 between 2^-10 and 2^-3 (about 1e-3 to 1.2e-1), as bits.
    pub fn scale_f16(&mut self) -> u16 {
        let bits = self.next_u64();
        let exponent = 5 + (bits % 7) as u16; // 2^(e - 15) for e in 5..=11
        let mantissa = ((bits >> 8) & 0x3FF) as u16;
        (exponent << 10) | mantissa
    }

    /// Uniform in (0, 1).
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f32 {
        let (u, v) = (self.unit(), self.unit());
        ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
    }
}

/// `blocks` random blocks: realistic `d`/`dmin`, random packed scales and quants.
pub fn random_blocks(rng: &mut Rng, blocks: usize) -> Vec<u8> {
    let mut input = vec![0u8; blocks * BLOCK_BYTES];
    for block in input.chunks_exact_mut(BLOCK_BYTES) {
        block[0..2].copy_from_slice(&rng.scale_f16().to_le_bytes());
        block[2..4].copy_from_slice(&rng.scale_f16().to_le_bytes());
        for chunk in block[4..].chunks_mut(8) {
            let bytes = rng.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
    input
}
