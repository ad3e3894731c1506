//! A small vocabulary of lane-wise `f32` vector operations, implemented once per instruction set
//! (AVX-512, AVX2, NEON), so that an algorithm whose every lane runs the same scalar code can be
//! written once and compiled into each `#[target_feature]` kernel.
//!
//! Every operation is the IEEE 754 operation of its name, rounded on its own (no fused
//! multiply-add), lane by lane, so a lane computes exactly what scalar Rust code computes with
//! the same operations in the same order. Comparisons and selections follow C's ternaries
//! (`a < b ? a : b`), including for signed zeros.
//!
//! An implementing type is a zero-sized token: a value exists only where its instruction set is
//! available, which is what makes the methods safe to call. All methods are
//! `#[inline(always)]`, so that they are compiled inside the `#[target_feature]` function that
//! runs the whole loop.

/// Floats in one row of lanes that [`Lanes::load`] and [`Lanes::store`] address.
pub(crate) const ROW: usize = 32;

/// Lane-wise operations on vectors of [`Lanes::N`] `f32` values.
///
/// # Safety
///
/// `N` must be at most 16, and a value of the implementing type may exist only where its
/// instruction set is available (the methods rely on both).
pub(crate) unsafe trait Lanes: Copy {
    /// Lanes per vector (at most 16).
    const N: usize;
    /// A vector of `N` floats.
    type F: Copy;
    /// A lane mask.
    type M: Copy;

    /// Every lane `v`.
    fn splat(self, v: f32) -> Self::F;
    /// Lanes `at .. at + N` of `row` (`at` is clamped to `ROW - N`).
    fn load(self, row: &[f32; ROW], at: usize) -> Self::F;
    /// Stores into lanes `at .. at + N` of `row` (`at` is clamped to `ROW - N`).
    fn store(self, v: Self::F, row: &mut [f32; ROW], at: usize);

    /// `a + b`.
    fn add(self, a: Self::F, b: Self::F) -> Self::F;
    /// `a - b`.
    fn sub(self, a: Self::F, b: Self::F) -> Self::F;
    /// `a * b`.
    fn mul(self, a: Self::F, b: Self::F) -> Self::F;
    /// `a / b`.
    fn div(self, a: Self::F, b: Self::F) -> Self::F;
    /// The correctly rounded square root.
    fn sqrt(self, a: Self::F) -> Self::F;
    /// `-a` (flips the sign bit).
    fn neg(self, a: Self::F) -> Self::F;
    /// `|a|` (clears the sign bit).
    fn abs(self, a: Self::F) -> Self::F;
    /// C's `a < b ? a : b`.
    fn min_c(self, a: Self::F, b: Self::F) -> Self::F;
    /// C's `a > b ? a : b`.
    fn max_c(self, a: Self::F, b: Self::F) -> Self::F;
    /// Rounds to the nearest integer, ties to even. Only used on `|a| < 2^22`, where it equals
    /// llama.cpp's `nearest_int` (converted back to `f32`).
    fn round_even(self, a: Self::F) -> Self::F;
    /// llama.cpp's `nearest_int(a)` clamped to `0..=15`, as `f32`, for any `a` (NaN and
    /// infinities included): the bits of `a + 1.5 * 2^23`, low 23 bits, minus `2^22`.
    fn nearest_level15(self, a: Self::F) -> Self::F;

    /// `a < b`.
    fn lt(self, a: Self::F, b: Self::F) -> Self::M;
    /// `a > b`.
    fn gt(self, a: Self::F, b: Self::F) -> Self::M;
    /// `a <= b`.
    fn le(self, a: Self::F, b: Self::F) -> Self::M;
    /// `a == b`.
    fn eq(self, a: Self::F, b: Self::F) -> Self::M;
    /// Lanes set in both.
    fn and(self, a: Self::M, b: Self::M) -> Self::M;
    /// Lanes set in `a` and not in `b`.
    fn and_not(self, a: Self::M, b: Self::M) -> Self::M;
    /// Lanes set in either.
    fn or(self, a: Self::M, b: Self::M) -> Self::M;
    /// `m ? a : b`, lane by lane.
    fn select(self, m: Self::M, a: Self::F, b: Self::F) -> Self::F;
    /// Whether any lane is set.
    fn any(self, m: Self::M) -> bool;
    /// Whether every lane is set.
    fn all(self, m: Self::M) -> bool;
}
