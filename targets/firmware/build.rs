//! Copies the memory map of the target's board to `OUT_DIR/memory.x`, where cortex-m-rt's
//! `link.x` includes it from. (No `memory.x` in the package root: the linker would find that
//! one first, whatever the target.)
//!
//! Also writes `OUT_DIR/encode_weighted.bin`: the cases of llama.cpp's
//! `tests/vectors/llama/encode_weighted.bin` named in [`WEIGHTED_CASES`], in that file's layout
//! (case count, then each case's bytes unchanged), for `tests/encode.rs`.

use std::{env, fs, path::PathBuf};

/// The weighted-encoder cases the firmware runs: 26 of the file's 70 blocks, 67 KiB of its
/// 182 KiB, each a kind of input or weights that the others are not.
const WEIGHTED_CASES: &[&str] = &[
    // Three rows of two blocks: the importance vector starts again at each row; a quarter of
    // the weights and all of sub-block 3 are zero.
    "gaussian_outliers_3x512_w_with_zeros",
    // Every weight zero.
    "gaussian_outliers_3x512_w_all_zero",
    // Rows of four blocks, weights spread over four decades.
    "realistic_weights_2x1024_w_random",
    // f32 subnormals: `15 / (max - min)` overflows to infinity.
    "subnormal_w_with_zeros",
    // Values exactly halfway between two levels: rounding ties.
    "halfway_w_with_zeros",
    // Constant and all-zero sub-blocks: minimum equals maximum.
    "constant_per_sub_block_w_random",
];

const WEIGHTED_FILE: &str = "../../tests/vectors/llama/encode_weighted.bin";

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
    let file = fs::read(WEIGHTED_FILE).expect("read encode_weighted.bin");
    fs::write(out.join("encode_weighted.bin"), weighted_subset(&file)).expect("write the cases");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-env=Q4K_FIRMWARE_TARGET={target}");
    println!("cargo:rerun-if-changed=memory-an386.x");
    println!("cargo:rerun-if-changed=memory-an505.x");
    println!("cargo:rerun-if-changed={WEIGHTED_FILE}");
    println!("cargo:rerun-if-changed=build.rs");
}

/// The cases of `file` (`encode_weighted.bin`) named in [`WEIGHTED_CASES`], in the file's
/// layout. Panics if the file is malformed or a named case is missing.
fn weighted_subset(file: &[u8]) -> Vec<u8> {
    let u32_at = |at: usize| u32::from_le_bytes(file[at..at + 4].try_into().unwrap()) as usize;
    let mut picked = Vec::new();
    let mut found = Vec::new();
    let mut at = 4;
    for _ in 0..u32_at(0) {
        let start = at;
        let name_len = usize::from(u16::from_le_bytes([file[at], file[at + 1]]));
        let name = std::str::from_utf8(&file[at + 2..at + 2 + name_len]).expect("ASCII name");
        at += 2 + name_len;
        let (nrow, n_per_row) = (u32_at(at), u32_at(at + 4));
        let values = nrow * n_per_row;
        // input, weights, Q4_K blocks, decoded values
        at += 8 + 4 * values + 4 * n_per_row + values / 256 * 144 + 4 * values;
        if WEIGHTED_CASES.contains(&name) {
            picked.extend_from_slice(&file[start..at]);
            found.push(name);
        }
    }
    assert_eq!(at, file.len(), "{WEIGHTED_FILE}: bytes after the last case");
    let missing: Vec<_> = WEIGHTED_CASES
        .iter()
        .filter(|c| !found.contains(c))
        .collect();
    assert!(
        missing.is_empty(),
        "{WEIGHTED_FILE} has no case {missing:?}"
    );
    let mut subset = u32::try_from(found.len()).unwrap().to_le_bytes().to_vec();
    subset.extend(picked);
    subset
}
