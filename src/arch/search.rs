//! The search both lane-parallel encoders run for every sub-block, one sub-block per lane:
//! llama.cpp's `make_qkx2_quants` / `make_qkx3_quants` (32 values, `nmax` 15, no `use_mad`),
//! the scalar kernel's `make_qkx_quants`, in the C's order of operations inside each lane.
//!
//! Two places need care to stay exact:
//! - the search rounds `iscale * (x - min)` with the vector's round-to-nearest-even
//!   ([`Lanes::round_even`]), which equals llama.cpp's `nearest_int` only while the argument is
//!   below `2^22` in magnitude. Each lane checks a bound on it at every step; the search
//!   reports a failure (sub-blocks whose values span less than about `1e-30`, or whose fitted
//!   offset runs far from the values), and the caller encodes those blocks with the scalar
//!   kernel instead.
//! - the C updates `min` when it accepts a candidate, and later candidates use the new `min`;
//!   lanes do the same, so candidates run one after another, each on all lanes.
//!
//! One difference in the way, not in the result: the C copies the winning quants into `L` each
//! time a step improves. Here each lane remembers the inverse scale and offset that produced its
//! best quants, for the caller to recompute them (the same operations on the same values give
//! the same quants) where it needs them.

use super::lanes::Lanes;
use crate::scalar::encode::SUB_BLOCK;

/// Values of `G` vectors of sub-blocks: `v[i][g]` holds value `i` of the sub-blocks of
/// vector `g`.
pub(crate) type Values<S, const G: usize> = [[<S as Lanes>::F; G]; SUB_BLOCK];

/// The candidate inverse scales of a search: `(rmin + rdelta * is + 15) / (max - min)` for
/// `is` in `0..=nstep`.
#[derive(Clone, Copy)]
pub(crate) struct Candidates {
    pub(crate) rmin: f32,
    pub(crate) rdelta: f32,
    pub(crate) nstep: usize,
}

/// What the search found for one vector of sub-blocks.
#[derive(Clone, Copy)]
pub(crate) struct Found<F> {
    /// The scale the C returns (0 for a constant sub-block).
    pub(crate) scale: F,
    /// Its `min` before negation (the C returns `the_min = -min`).
    pub(crate) min: F,
    /// The inverse scale of the best quants (0 for a constant sub-block, whose quants are 0).
    pub(crate) iscale: F,
    /// The offset the best quants were computed with: `quant(iscale * (x - lmin))`.
    pub(crate) lmin: F,
}

/// What the steps of a vector need of its values, one lane per sub-block.
struct Range<S: Lanes> {
    /// The largest value.
    max: S::F,
    /// The smallest value.
    x_min: S::F,
    /// The largest magnitude.
    x_abs: S::F,
    /// Whether the sub-block is constant (the C returns before the search).
    flat: S::M,
}

impl<S: Lanes> Range<S> {
    /// Whether rounding `iscale * (x - min)` stays in the exact range for every value (always
    /// in flat lanes: the C does not round there).
    #[inline(always)]
    fn within(&self, s: S, iscale: S::F, min: S::F) -> S::M {
        s.or(s.within_bound(iscale, self.x_abs, min), self.flat)
    }

    /// The clamps that `quant(iscale * (x - min))` needs for the values of the vector:
    /// rounding is monotonic, so the products at the smallest and the largest value bound all
    /// the others.
    #[inline(always)]
    fn clamps(&self, s: S, iscale: S::F, min: S::F) -> Clamps {
        let lo = s.mul(iscale, s.sub(self.x_min, min));
        let hi = s.mul(iscale, s.sub(self.max, min));
        let (below, above) = (s.splat(-0.5), s.splat(15.5));
        Clamps {
            low: !s.all(s.or(s.and(s.gt(lo, below), s.gt(hi, below)), self.flat)),
            high: !s.all(s.or(s.and(s.lt(lo, above), s.lt(hi, above)), self.flat)),
        }
    }
}

/// Which ends of `0..=15` a step's quants must be clamped to. Where every value of every lane
/// (but flat ones, whose quants are not used) rounds inside the range, the clamp is left out:
/// a quant `-0.0` in place of `0.0` changes none of the sums or errors it enters, as it is
/// only multiplied by other values and added to sums that start at `+0.0`.
#[derive(Clone, Copy)]
struct Clamps {
    low: bool,
    high: bool,
}

/// One vector's half of a step: which vector (`g`), and its scale and offset (for the error)
/// or inverse scale and offset (for the quants).
#[derive(Clone, Copy)]
struct Half<F> {
    g: usize,
    scale: F,
    min: F,
}

/// The state of the search on `G` vectors.
struct Search<'a, S: Lanes, const G: usize> {
    s: S,
    x: &'a Values<S, G>,
    w: &'a Values<S, G>,
    range: [Range<S>; G],
    sum_w: [S::F; G],
    sum_x: [S::F; G],
    /// The offset the next quants are computed with.
    min: [S::F; G],
    /// The inverse scale of the step being quantized.
    iscale: [S::F; G],
    scale: [S::F; G],
    best_error: [S::F; G],
    best_iscale: [S::F; G],
    best_lmin: [S::F; G],
    /// Whether every rounding so far was exact.
    ok: [S::M; G],
    /// The quants of each vector's step, and their sums `[sum(w*l), sum(w*l*l), sum(w*l*x)]`.
    laux: Values<S, G>,
    sums: [[S::F; 3]; G],
}

/// `make_qkx_quants` on the sub-blocks of `G` vectors (1 or 2): values `x`, weights `w`.
/// `None` if a lane failed the rounding bound.
///
/// The `G` vectors are independent and their operations interleaved: each step's sums are
/// chains of 32 dependent additions per vector, and a second chain hides the latency of the
/// first. With two vectors the steps are staggered by half a step (one vector's errors beside
/// the other's quants), so that the divisions and the comparison between the halves of one
/// vector's step overlap the other's loop instead of draining both.
///
/// Measured on Zen 4 with AVX-512, one thread: the step loops run close to the throughput of
/// all four FP pipes together, not of the two adders alone, so moving the sums onto the FMA
/// pipes as `fma(a, 1.0, b)` (exact) gained at most 0.5%, within the noise. One vector at a
/// time is about 9% slower than two interleaved (the chains between steps are exposed), four
/// (with eight-block chunks) about 20% slower, and the two vectors' loops run one after the
/// other instead of interleaved about 2% slower. Rounding with the vector round-to-even
/// instead of the C's integer trick, the staggering and the clamps left out where no value
/// reaches them gained about 9% together.
#[inline(always)]
pub(crate) fn search<S: Lanes, const G: usize>(
    s: S,
    x: &Values<S, G>,
    w: &Values<S, G>,
    candidates: Candidates,
) -> Option<[Found<S::F>; G]> {
    let zero = s.splat(0.0);
    let mut min = x[0];
    let mut max = x[0];
    let mut sum_w = w[0];
    let mut sum_x: [S::F; G] = core::array::from_fn(|g| s.mul(sum_w[g], x[0][g]));
    for i in 1..SUB_BLOCK {
        for g in 0..G {
            min[g] = s.min(x[i][g], min[g]);
            max[g] = s.max(x[i][g], max[g]);
            sum_w[g] = s.add(sum_w[g], w[i][g]);
            sum_x[g] = s.add(sum_x[g], s.mul(w[i][g], x[i][g]));
        }
    }
    let x_min = min;
    let min = x_min.map(|m| s.select(s.gt(m, zero), zero, m));
    let flat_min = min;
    let range: [Range<S>; G] = core::array::from_fn(|g| Range {
        max: max[g],
        x_min: x_min[g],
        x_abs: s.max(s.abs(max[g]), s.abs(x_min[g])),
        flat: s.eq(max[g], min[g]),
    });

    let iscale: [S::F; G] = core::array::from_fn(|g| s.div(s.splat(15.0), s.sub(max[g], min[g])));
    let scale: [S::F; G] = core::array::from_fn(|g| s.div(s.splat(1.0), iscale[g]));
    let ok: [S::M; G] = core::array::from_fn(|g| range[g].within(s, iscale[g], min[g]));
    let mut best_error = [zero; G];
    for i in 0..SUB_BLOCK {
        for g in 0..G {
            let l = s.level(s.mul(iscale[g], s.sub(x[i][g], min[g])));
            let diff = s.sub(s.add(s.mul(scale[g], l), min[g]), x[i][g]);
            best_error[g] = s.add(best_error[g], s.mul(w[i][g], s.mul(diff, diff)));
        }
    }

    let mut search = Search {
        s,
        x,
        w,
        range,
        sum_w,
        sum_x,
        min,
        iscale,
        scale,
        best_error,
        best_iscale: iscale,
        best_lmin: min,
        ok,
        // Written in full by every step before it is read.
        laux: [[zero; G]; SUB_BLOCK],
        sums: [[zero; 3]; G],
    };
    search.run(candidates);
    if !search.ok.iter().all(|&m| s.all(m)) {
        return None;
    }
    Some(core::array::from_fn(|g| {
        let flat = search.range[g].flat;
        Found {
            scale: s.select(flat, zero, search.scale[g]),
            min: s.select(flat, flat_min[g], search.min[g]),
            iscale: s.select(flat, zero, search.best_iscale[g]),
            lmin: s.select(flat, flat_min[g], search.best_lmin[g]),
        }
    }))
}

impl<S: Lanes, const G: usize> Search<'_, S, G> {
    /// The steps, vector after vector: with two vectors, half a step apart.
    #[inline(always)]
    fn run(&mut self, candidates: Candidates) {
        let s = self.s;
        let zero = s.splat(0.0);
        let numerator = |is: usize| (candidates.rmin + candidates.rdelta * is as f32) + 15.0;
        let none = Half {
            g: 0,
            scale: zero,
            min: zero,
        };
        self.quantize::<false>(0, numerator(0), none);
        for is in 0..=candidates.nstep {
            for g in 0..G {
                let [sum_l, sum_l2, sum_xl] = self.sums[g];
                let (sum_w, sum_x) = (self.sum_w[g], self.sum_x[g]);
                let d = s.sub(s.mul(sum_w, sum_l2), s.mul(sum_l, sum_l));
                let solvable = s.gt(d, zero);
                let ts = s.div(s.sub(s.mul(sum_w, sum_xl), s.mul(sum_x, sum_l)), d);
                let tm = s.div(s.sub(s.mul(sum_l2, sum_x), s.mul(sum_l, sum_xl)), d);
                let positive = s.gt(tm, zero);
                let this_min = s.select(positive, zero, tm);
                let this_scale = s.select(positive, s.div(sum_xl, sum_l2), ts);
                let e = Half {
                    g,
                    scale: this_scale,
                    min: this_min,
                };

                // The vector and step that quantize beside this error (with one vector, after
                // it).
                let (next, next_is) = if g + 1 < G { (g + 1, is) } else { (0, is + 1) };
                let error = if next != g && next_is <= candidates.nstep {
                    self.quantize::<true>(next, numerator(next_is), e)
                } else {
                    let both = Clamps {
                        low: true,
                        high: true,
                    };
                    self.pass::<true, false>(e, e, both).0
                };
                let better = s.and(solvable, s.lt(error, self.best_error[g]));
                self.best_error[g] = s.select(better, error, self.best_error[g]);
                self.scale[g] = s.select(better, this_scale, self.scale[g]);
                self.best_iscale[g] = s.select(better, self.iscale[g], self.best_iscale[g]);
                self.best_lmin[g] = s.select(better, self.min[g], self.best_lmin[g]);
                self.min[g] = s.select(better, this_min, self.min[g]);
                if next == g && next_is <= candidates.nstep {
                    self.quantize::<false>(g, numerator(next_is), none);
                }
            }
        }
    }

    /// Starts vector `g`'s step with inverse scale `numerator / (max - min)`: its quants and
    /// their sums, and with `E` beside them the error of `e`'s candidate, which it returns.
    #[inline(always)]
    fn quantize<const E: bool>(&mut self, g: usize, numerator: f32, e: Half<S::F>) -> S::F {
        let s = self.s;
        let numerator = s.splat(numerator);
        let range = &self.range[g];
        let min = self.min[g];
        let iscale = s.div(numerator, s.sub(range.max, min));
        self.iscale[g] = iscale;
        self.ok[g] = s.and(self.ok[g], range.within(s, iscale, min));
        let clamps = range.clamps(s, iscale, min);
        let q = Half {
            g,
            scale: iscale,
            min,
        };
        let (error, sums) = self.pass::<E, true>(e, q, clamps);
        self.sums[g] = sums;
        error
    }
}

impl<S: Lanes, const G: usize> Search<'_, S, G> {
    /// One pass over the 32 values for the halves of a step that `E` and `Q` select: the
    /// weighted squared error `sum(w * (scale * l + min - x)^2)` of `e`'s quants, and the quants
    /// `quant(iscale * (x - min))` of `q` into `laux` with their sums `[sum(w*l), sum(w*l*l),
    /// sum(w*l*x)]`, in the C's order, the quants clamped as `clamps` needs.
    #[inline(always)]
    fn pass<const E: bool, const Q: bool>(
        &mut self,
        e: Half<S::F>,
        q: Half<S::F>,
        clamps: Clamps,
    ) -> (S::F, [S::F; 3]) {
        match (Q, clamps.low, clamps.high) {
            (false, ..) | (true, true, true) => self.pass_with::<E, Q, true, true>(e, q),
            (true, true, false) => self.pass_with::<E, Q, true, false>(e, q),
            (true, false, true) => self.pass_with::<E, Q, false, true>(e, q),
            (true, false, false) => self.pass_with::<E, Q, false, false>(e, q),
        }
    }

    /// [`pass`](Self::pass) with the clamps fixed.
    #[inline(always)]
    fn pass_with<const E: bool, const Q: bool, const LOW: bool, const HIGH: bool>(
        &mut self,
        e: Half<S::F>,
        q: Half<S::F>,
    ) -> (S::F, [S::F; 3]) {
        let s = self.s;
        let (x, w, laux) = (self.x, self.w, &mut self.laux);
        let (zero, fifteen) = (s.splat(0.0), s.splat(15.0));
        let mut error = zero;
        let mut sums = [zero; 3];
        for i in 0..SUB_BLOCK {
            if E {
                let diff = s.sub(s.add(s.mul(e.scale, laux[i][e.g]), e.min), x[i][e.g]);
                error = s.add(error, s.mul(w[i][e.g], s.mul(diff, diff)));
            }
            if Q {
                let mut l = s.round_even(s.mul(q.scale, s.sub(x[i][q.g], q.min)));
                if LOW {
                    l = s.max(l, zero);
                }
                if HIGH {
                    l = s.min(l, fifteen);
                }
                laux[i][q.g] = l;
                let wl = s.mul(w[i][q.g], l);
                sums[0] = s.add(sums[0], wl);
                sums[1] = s.add(sums[1], s.mul(wl, l));
                sums[2] = s.add(sums[2], s.mul(wl, x[i][q.g]));
            }
        }
        (error, sums)
    }
}
