//! AVX-512 kernels.

pub(crate) mod decode;
pub(crate) mod dot;
