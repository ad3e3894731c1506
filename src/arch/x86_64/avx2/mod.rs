//! AVX2 (with FMA) kernels.

pub(crate) mod decode;
