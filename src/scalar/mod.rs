//! The portable scalar kernels: the fallback on every target and the oracle that every SIMD
//! kernel is tested against, bit for bit. Each file reads like the reference it reproduces.

pub(crate) mod decode;
pub(crate) mod decode_half;
pub(crate) mod dot;
pub(crate) mod dot_f32;
pub(crate) mod encode;
pub(crate) mod encode_weighted;
