//! AVX2 (with FMA) kernels.

pub(crate) mod decode;
pub(crate) mod decode_half;
pub(crate) mod dot;
pub(crate) mod dot_f32;
pub(crate) mod encode;
pub(crate) mod encode_weighted;
