//! Compiles llama.cpp's Q4_K / Q8_K C (ggml-quants.c, ggml-cpu/quants.c and the x86 SIMD file
//! ggml-cpu/arch/x86/quants.c) into a static library, the way llama.cpp builds it for the CPU
//! it runs on: `-O3 -march=native`, release (`NDEBUG`), GNU C's default FMA contraction.

use std::env;
use std::path::{Path, PathBuf};

/// The llama-cpp-python release whose vendored llama.cpp fetch.sh unpacks.
const VERSION: &str = "0.3.36";

fn main() {
    println!("cargo::rerun-if-env-changed=LLAMA_CPP_DIR");
    let here = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let arch = env::var("CARGO_CFG_TARGET_ARCH").expect("CARGO_CFG_TARGET_ARCH");
    assert!(
        arch == "x86_64",
        "the llama.cpp benchmarks build llama.cpp's x86 SIMD code: x86_64 only (target is {arch})"
    );

    let llama = llama_dir(&here);
    let ggml = llama.join("ggml");
    let shim = here.join("../../tests/vectors/llama/shim.c");
    let files = [
        ggml.join("src/ggml-quants.c"),
        ggml.join("src/ggml-cpu/quants.c"),
        ggml.join("src/ggml-cpu/arch/x86/quants.c"),
        shim,
    ];
    for file in &files {
        println!("cargo::rerun-if-changed={}", file.display());
    }
    cc::Build::new()
        .files(&files)
        .include(ggml.join("include"))
        .include(ggml.join("src"))
        .include(ggml.join("src/ggml-cpu"))
        .std("gnu11")
        .opt_level(3)
        .flag("-march=native")
        .define("NDEBUG", None)
        .warnings(false)
        .cargo_warnings(false)
        .compile("llama_quants");
}

/// The llama.cpp source tree: `LLAMA_CPP_DIR` (the directory holding `ggml/`, or an unpacked
/// llama-cpp-python sdist), else where fetch.sh unpacks it.
fn llama_dir(here: &Path) -> PathBuf {
    let fetched = here
        .join("target/llama-src")
        .join(format!("llama_cpp_python-{VERSION}"))
        .join("vendor/llama.cpp");
    let dir = match env::var_os("LLAMA_CPP_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            let vendored = dir.join("vendor/llama.cpp");
            if vendored.join("ggml").is_dir() {
                vendored
            } else {
                dir
            }
        }
        None => fetched,
    };
    let probe = dir.join("ggml/src/ggml-quants.c");
    if !probe.is_file() {
        panic!(
            "\n\nllama.cpp's source is missing: {} does not exist.\n\
             Run benches/llama/fetch.sh (downloads the llama-cpp-python {VERSION} sdist with pip \
             and unpacks it under benches/llama/target/llama-src), or set LLAMA_CPP_DIR to a \
             llama.cpp source tree.\n\n",
            probe.display()
        );
    }
    dir
}
