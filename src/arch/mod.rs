//! Kernels for one instruction set each; `kernel.rs` is the only place that chooses among them.

#[cfg(target_arch = "aarch64")]
pub(crate) mod aarch64;
