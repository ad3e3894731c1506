//! Advanced SIMD (NEON) kernels, little-endian only.

pub(crate) mod decode;
pub(crate) mod dot;
