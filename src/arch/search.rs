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

use super::lanes::{Lanes, array_of};
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
#[derive(Clone, Copy)]
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
    /// The clamps the quants of each vector's step need.
    clamps: [Clamps; G],
    /// The quants of each vector's step.
    laux: Values<S, G>,
    /// Per vector, the sums of its quants `[sum(w*l), sum(w*l*l), sum(w*l*x)]`, or its
    /// candidate's error (first).
    acc: [[S::F; 3]; G],
    /// Each vector's candidate: whether it is solvable, its scale and offset.
    solvable: [S::M; G],
    this_scale: [S::F; G],
    this_min: [S::F; G],
}

/// `make_qkx_quants` on the sub-blocks of `G` vectors (1 or 2): values `x`, weights `w`.
/// `None` if a lane failed the rounding bound.
///
/// The `G` vectors are independent and their operations interleaved: each step's sums are
/// chains of 32 dependent additions per vector, and a second chain hides the latency of the
/// first. With two vectors the second runs half a pass behind the first (see `run`), so that
/// the divisions and comparisons between the passes of one vector overlap the other's loop
/// instead of draining both.
///
/// Measured on Zen 4 with AVX-512, one thread: a pass over 32 values runs at the throughput of
/// the two adder pipes, which also round and clamp (8 cycles a vector of values with neither
/// clamp, 10 with both; the multipliers are one cycle less busy, so moving a sum onto them as
/// the exact `fma(a, 1.0, b)` gains nothing where no clamp is needed, and gained nothing
/// measurable overall). Before the stagger, one vector at a time was about 9% slower than two
/// interleaved, four (with eight-block chunks) about 20% slower. Rounding with the vector
/// round-to-even instead of the C's integer trick (6 operations to 3), leaving out the clamps
/// no value reaches (about two thirds of the steps need neither) and the half-pass stagger
/// gained about 15% together, the stagger alone about 2% (a stagger by whole passes, one
/// vector's errors beside the other's quants, gained nothing: both vectors still finished
/// their loops together).
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
    let mut sum_x: [S::F; G] = array_of(|g| s.mul(sum_w[g], x[0][g]));
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
    let range: [Range<S>; G] = array_of(|g| Range {
        max: max[g],
        x_min: x_min[g],
        x_abs: s.max(s.abs(max[g]), s.abs(x_min[g])),
        flat: s.eq(max[g], min[g]),
    });

    let iscale: [S::F; G] = array_of(|g| s.div(s.splat(15.0), s.sub(max[g], min[g])));
    let scale: [S::F; G] = array_of(|g| s.div(s.splat(1.0), iscale[g]));
    let ok: [S::M; G] = array_of(|g| range[g].within(s, iscale[g], min[g]));
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
        clamps: [Clamps {
            low: true,
            high: true,
        }; G],
        laux: [[zero; G]; SUB_BLOCK],
        acc: [[zero; 3]; G],
        solvable: ok,
        this_scale: [zero; G],
        this_min: [zero; G],
    };
    search.run(candidates);
    if !search.ok.iter().all(|&m| s.all(m)) {
        return None;
    }
    Some(array_of(|g| {
        let flat = search.range[g].flat;
        Found {
            scale: s.select(flat, zero, search.scale[g]),
            min: s.select(flat, flat_min[g], search.min[g]),
            iscale: s.select(flat, zero, search.best_iscale[g]),
            lmin: s.select(flat, flat_min[g], search.best_lmin[g]),
        }
    }))
}

/// What a vector does in a half pass.
const IDLE: u8 = 0;
/// See [`IDLE`]: the quants of its step and their sums.
const QUANT: u8 = 1;
/// See [`IDLE`]: the error of its step's candidate.
const ERROR: u8 = 2;

/// Values in a half pass.
const HALF: usize = SUB_BLOCK / 2;

impl<S: Lanes, const G: usize> Search<'_, S, G> {
    /// The steps. Each step of a vector is two passes over its 32 values (the quants, then the
    /// error of the candidate they give), each pass run in two halves of 16 values. With two
    /// vectors, vector 1 runs half a pass behind vector 0, so that between the passes of one
    /// vector (where it waits for its divisions and comparisons) the other one has work.
    #[inline(always)]
    fn run(&mut self, candidates: Candidates) {
        let nstep = candidates.nstep;
        if G == 1 {
            for is in 0..=nstep {
                self.begin(0, is, candidates);
                self.half_pass::<QUANT, IDLE>([0; G]);
                self.half_pass::<QUANT, IDLE>([HALF; G]);
                self.solve(0);
                self.half_pass::<ERROR, IDLE>([0; G]);
                self.half_pass::<ERROR, IDLE>([HALF; G]);
                self.update(0);
            }
            return;
        }
        let from = |a: usize, b: usize| -> [usize; G] { array_of(|g| if g == 0 { a } else { b }) };
        self.begin(0, 0, candidates);
        self.half_pass::<QUANT, IDLE>(from(0, 0));
        self.begin(1, 0, candidates);
        for is in 0..=nstep {
            self.half_pass::<QUANT, QUANT>(from(HALF, 0));
            self.solve(0);
            self.half_pass::<ERROR, QUANT>(from(0, HALF));
            self.solve(1);
            self.half_pass::<ERROR, ERROR>(from(HALF, 0));
            self.update(0);
            if is < nstep {
                self.begin(0, is + 1, candidates);
                self.half_pass::<QUANT, ERROR>(from(0, HALF));
            } else {
                self.half_pass::<IDLE, ERROR>(from(0, HALF));
            }
            self.update(1);
            if is < nstep {
                self.begin(1, is + 1, candidates);
            }
        }
    }

    /// Starts vector `g`'s step `is`: the inverse scale `(rmin + rdelta * is + 15) / (max -
    /// min)`, the rounding bound, the clamps its quants need; the sums start at 0.
    #[inline(always)]
    fn begin(&mut self, g: usize, is: usize, candidates: Candidates) {
        let s = self.s;
        let numerator = s.splat((candidates.rmin + candidates.rdelta * is as f32) + 15.0);
        let range = &self.range[g];
        let min = self.min[g];
        let iscale = s.div(numerator, s.sub(range.max, min));
        self.iscale[g] = iscale;
        self.ok[g] = s.and(self.ok[g], range.within(s, iscale, min));
        self.clamps[g] = range.clamps(s, iscale, min);
        self.acc[g] = [s.splat(0.0); 3];
    }

    /// The candidate of vector `g`'s step from the sums of its quants; its error starts at 0.
    #[inline(always)]
    fn solve(&mut self, g: usize) {
        let s = self.s;
        let zero = s.splat(0.0);
        let [sum_l, sum_l2, sum_xl] = self.acc[g];
        let (sum_w, sum_x) = (self.sum_w[g], self.sum_x[g]);
        let d = s.sub(s.mul(sum_w, sum_l2), s.mul(sum_l, sum_l));
        self.solvable[g] = s.gt(d, zero);
        let ts = s.div(s.sub(s.mul(sum_w, sum_xl), s.mul(sum_x, sum_l)), d);
        let tm = s.div(s.sub(s.mul(sum_l2, sum_x), s.mul(sum_l, sum_xl)), d);
        let positive = s.gt(tm, zero);
        self.this_min[g] = s.select(positive, zero, tm);
        self.this_scale[g] = s.select(positive, s.div(sum_xl, sum_l2), ts);
        self.acc[g] = [zero; 3];
    }

    /// Accepts vector `g`'s candidate in the lanes where it is solvable and its error smaller.
    #[inline(always)]
    fn update(&mut self, g: usize) {
        let s = self.s;
        let error = self.acc[g][0];
        let better = s.and(self.solvable[g], s.lt(error, self.best_error[g]));
        self.best_error[g] = s.select(better, error, self.best_error[g]);
        self.scale[g] = s.select(better, self.this_scale[g], self.scale[g]);
        self.best_iscale[g] = s.select(better, self.iscale[g], self.best_iscale[g]);
        self.best_lmin[g] = s.select(better, self.min[g], self.best_lmin[g]);
        self.min[g] = s.select(better, self.this_min[g], self.min[g]);
    }

    /// One half pass: vector 0 does `A`, vector 1 (if any) `B`, on the 16 values from
    /// `from[g]`, the quants clamped where a vector that quantizes needs it. The operations are
    /// parameters of the type, so that each call site holds only its own four clamp variants
    /// (an unoptimised build inlines every variant at every site otherwise, megabytes of stack).
    #[inline(always)]
    fn half_pass<const A: u8, const B: u8>(&mut self, from: [usize; G]) {
        let (mut low, mut high) = (false, false);
        for g in 0..G {
            if (if g == 0 { A } else { B }) == QUANT {
                low |= self.clamps[g].low;
                high |= self.clamps[g].high;
            }
        }
        match (low, high) {
            (true, true) => self.half_with::<A, B, true, true>(from),
            (true, false) => self.half_with::<A, B, true, false>(from),
            (false, true) => self.half_with::<A, B, false, true>(from),
            (false, false) => self.half_with::<A, B, false, false>(from),
        }
    }

    /// A half pass with every choice fixed: vector 0 does `A`, vector 1 (if any) `B`, on the 16
    /// values from `from[g]`. The quants `quant(iscale * (x - min))` go into `laux` and their
    /// sums `[sum(w*l), sum(w*l*l), sum(w*l*x)]` on in `acc`; the weighted squared errors
    /// `w * (scale * l + min - x)^2` of a candidate go on in `acc[g][0]`; in the C's order.
    #[inline(always)]
    fn half_with<const A: u8, const B: u8, const LOW: bool, const HIGH: bool>(
        &mut self,
        from: [usize; G],
    ) {
        let s = self.s;
        let (zero, fifteen) = (s.splat(0.0), s.splat(15.0));
        let (x, w) = (self.x, self.w);
        let mut acc = self.acc;
        let (iscale, min) = (self.iscale, self.min);
        let (scale, offset) = (self.this_scale, self.this_min);
        let laux = &mut self.laux;
        for i in 0..HALF {
            for g in 0..G {
                let op = if g == 0 { A } else { B };
                let i = from[g] + i;
                if op == ERROR {
                    let diff = s.sub(s.add(s.mul(scale[g], laux[i][g]), offset[g]), x[i][g]);
                    acc[g][0] = s.add(acc[g][0], s.mul(w[i][g], s.mul(diff, diff)));
                } else if op == QUANT {
                    let mut l = s.round_even(s.mul(iscale[g], s.sub(x[i][g], min[g])));
                    if LOW {
                        l = s.max(l, zero);
                    }
                    if HIGH {
                        l = s.min(l, fifteen);
                    }
                    laux[i][g] = l;
                    let wl = s.mul(w[i][g], l);
                    acc[g][0] = s.add(acc[g][0], wl);
                    acc[g][1] = s.add(acc[g][1], s.mul(wl, l));
                    acc[g][2] = s.add(acc[g][2], s.mul(wl, x[i][g]));
                }
            }
        }
        self.acc = acc;
    }
}
