//! Copies the memory map of the target's board to `OUT_DIR/memory.x`, where cortex-m-rt's
//! `link.x` includes it from. (No `memory.x` in the package root: the linker would find that
//! one first, whatever the target.)

use std::{env, fs, path::PathBuf};

fn main() {
    let target = env::var("TARGET").unwrap_or_default();
    // MPS2 AN505 (Cortex-M33) maps its RAM elsewhere than AN385/AN386/AN500.
    let memory = if target.starts_with("thumbv8m") {
        "memory-an505.x"
    } else {
        "memory-an386.x"
    };
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy(memory, out.join("memory.x")).expect("copy the memory map");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-env=Q4K_FIRMWARE_TARGET={target}");
    println!("cargo:rerun-if-changed=memory-an386.x");
    println!("cargo:rerun-if-changed=memory-an505.x");
    println!("cargo:rerun-if-changed=build.rs");
}
