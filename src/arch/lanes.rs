//! The vector operations that the lane-parallel encoders (`arch::encode` and
//! `arch::encode_weighted`) are written in, one implementation per instruction set (in
//! `<isa>/encode.rs`).
//!
//! A vector holds the same quantity of several sub-blocks side by side, one sub-block per lane,
//! so every operation is elementwise and every per-lane result is the scalar C's, rounded the
//! same way: there is no horizontal operation, and none of the operations is fused.

/// Sub-blocks handled together: four blocks, two vectors of the widest kind (16 lanes of
/// AVX-512).
pub(crate) const CHUNK_SUB_BLOCKS: usize = 32;

/// The searches round `iscale * (x - min)` with [`Lanes::level`] only while
/// `|iscale| * (max |x| + |min|)` stays below this bound, checked by [`Lanes::within_bound`]:
/// half of the `2^22` below which rounding to nearest even equals llama.cpp's `nearest_int`, a
/// margin for the rounding of the bound itself.
pub(crate) const ROUND_BOUND: f32 = 2_097_152.0;

/// One quantity of the [`CHUNK_SUB_BLOCKS`] sub-blocks of a chunk, lane `j` for sub-block `j`.
pub(crate) type Row = [f32; CHUNK_SUB_BLOCKS];

/// `[f(0), f(1), .., f(N - 1)]`, as `core::array::from_fn`, for the closures of vector
/// operations in the encoders' generic code: `from_fn` runs its closure through layers of
/// adaptors, and where the compiler left it out of line it was compiled without the caller's
/// target features, every vector operation in it a function call. Here the closure is called
/// directly from a plain loop in the caller. `N` is at least 1.
#[inline(always)]
pub(crate) fn array_of<T: Copy, const N: usize>(mut f: impl FnMut(usize) -> T) -> [T; N] {
    const { assert!(N > 0) };
    let mut out = [f(0); N];
    for (i, out) in out.iter_mut().enumerate().skip(1) {
        *out = f(i);
    }
    out
}

/// Elementwise `f32` vector operations over `LANES` sub-blocks.
///
/// A value of a type implementing this trait is proof that the CPU has the instruction set the
/// implementation uses (it can only be made where that was checked), so the methods are safe.
pub(crate) trait Lanes: Copy {
    /// Lanes per vector: 4, 8 or 16 (a divisor of [`CHUNK_SUB_BLOCKS`]).
    const LANES: usize;
    /// A vector of `LANES` `f32`.
    type F: Copy;
    /// A per-lane condition.
    type M: Copy;

    /// Every lane `v`.
    fn splat(self, v: f32) -> Self::F;
    /// Lanes `part * LANES ..` of `row` (`part < CHUNK_SUB_BLOCKS / LANES`).
    fn load(self, row: &Row, part: usize) -> Self::F;
    /// Stores into lanes `part * LANES ..` of `row` (`part < CHUNK_SUB_BLOCKS / LANES`).
    fn store(self, v: Self::F, row: &mut Row, part: usize);
    /// `a + b`.
    fn add(self, a: Self::F, b: Self::F) -> Self::F;
    /// `a - b`.
    fn sub(self, a: Self::F, b: Self::F) -> Self::F;
    /// `a * b`.
    fn mul(self, a: Self::F, b: Self::F) -> Self::F;
    /// `a / b`, correctly rounded.
    fn div(self, a: Self::F, b: Self::F) -> Self::F;
    /// The square root, correctly rounded.
    fn sqrt(self, a: Self::F) -> Self::F;
    /// `-a`: the sign bit flipped.
    fn neg(self, a: Self::F) -> Self::F;
    /// `fabsf`: the sign bit cleared.
    fn abs(self, a: Self::F) -> Self::F;
    /// `if x < m { x } else { m }`, per lane (C's `if (x < min) min = x`).
    fn min(self, x: Self::F, m: Self::F) -> Self::F;
    /// `if x > m { x } else { m }`, per lane (C's `if (x > max) max = x`).
    fn max(self, x: Self::F, m: Self::F) -> Self::F;
    /// `a > b` (false where either is NaN).
    fn gt(self, a: Self::F, b: Self::F) -> Self::M;
    /// `a < b` (false where either is NaN).
    fn lt(self, a: Self::F, b: Self::F) -> Self::M;
    /// `a == b` (false where either is NaN; `-0 == +0`).
    fn eq(self, a: Self::F, b: Self::F) -> Self::M;
    /// Both conditions.
    fn and(self, a: Self::M, b: Self::M) -> Self::M;
    /// Either condition.
    fn or(self, a: Self::M, b: Self::M) -> Self::M;
    /// Whether the condition holds in every lane.
    fn all(self, m: Self::M) -> bool;
    /// `if m { a } else { b }`, per lane.
    fn select(self, m: Self::M, a: Self::F, b: Self::F) -> Self::F;
    /// `MAX(0, MIN(15, nearest_int(v)))` as `f32`, bit for bit as
    /// [`quant`](crate::scalar::encode::quant) for every input, NaN and infinities included.
    fn quant(self, v: Self::F) -> Self::F;
    /// Rounds to the nearest integer, ties to even. Only used on `|v| < 2^22`, where it equals
    /// llama.cpp's `nearest_int` (converted back to `f32`).
    fn round_even(self, v: Self::F) -> Self::F;

    /// [`quant`](Lanes::quant) of `v` where `|v| < 2^22` (and garbage elsewhere): the nearest
    /// integer, ties to even, clamped to `0..=15`, in three operations instead of six.
    #[inline(always)]
    fn level(self, v: Self::F) -> Self::F {
        let zero = self.splat(0.0);
        self.min(self.max(self.round_even(v), zero), self.splat(15.0))
    }

    /// Whether `|iscale * (x - min)|` is below `2^22` (with a margin for rounding) for every
    /// `|x| <= x_abs`: false where any of them is NaN or infinite, or the product too large.
    #[inline(always)]
    fn within_bound(self, iscale: Self::F, x_abs: Self::F, min: Self::F) -> Self::M {
        let t = self.mul(self.abs(iscale), self.add(x_abs, self.abs(min)));
        self.lt(t, self.splat(ROUND_BOUND))
    }

    /// Stores quants (whole numbers 0..=15 as `f32`) as bytes into lanes `part * LANES ..` of
    /// `row` (`part < CHUNK_SUB_BLOCKS / LANES`).
    #[inline(always)]
    fn store_quants(self, v: Self::F, row: &mut [u8; CHUNK_SUB_BLOCKS], part: usize) {
        let mut values = [0f32; CHUNK_SUB_BLOCKS];
        self.store(v, &mut values, part);
        let lanes = part * Self::LANES..(part + 1) * Self::LANES;
        for (q, &v) in row[lanes.clone()].iter_mut().zip(&values[lanes]) {
            *q = v as u8;
        }
    }
}
