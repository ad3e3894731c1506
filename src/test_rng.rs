//! Random blocks for the unit tests: a small xorshift64* generator, deterministic, no dependency.

/// xorshift64*: fast, deterministic from its seed, good enough to scatter bits.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn fill(&mut self, bytes: &mut [u8]) {
        for byte in bytes {
            *byte = self.next() as u8;
        }
    }

    /// An f16 bit pattern: usually random, often a special value (zeros, subnormals, the
    /// largest finite values, infinities, NaNs).
    pub(crate) fn f16(&mut self) -> u16 {
        const SPECIAL: [u16; 12] = [
            0x0000, 0x8000, 0x0001, 0x83FF, 0x0400, 0x3C00, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00,
            0xFD01,
        ];
        let r = self.next();
        if r.is_multiple_of(4) {
            SPECIAL[(r >> 8) as usize % SPECIAL.len()]
        } else {
            (r >> 16) as u16
        }
    }

    /// One block: random bytes everywhere; a third of the time a realistic `d`/`dmin` (f16
    /// exponents around 1e-3..1e-1, either sign for `dmin`), a third of the time `d`/`dmin`
    /// from [`Rng::f16`], rich in special values.
    pub(crate) fn block(&mut self, bytes: &mut [u8]) {
        self.fill(bytes);
        let (d, dmin) = match self.next() % 3 {
            0 => {
                let realistic = |r: u64| (0x1400 + r % 0x1000) as u16 | (r as u16 & 0x8000);
                (realistic(self.next() & 0x7FFF), realistic(self.next()))
            }
            1 => (self.f16(), self.f16()),
            _ => return,
        };
        bytes[0..2].copy_from_slice(&d.to_le_bytes());
        bytes[2..4].copy_from_slice(&dmin.to_le_bytes());
    }
}
