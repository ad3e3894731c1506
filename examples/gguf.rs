//! Lists a GGUF model's tensors and decodes every Q4_K tensor with the parallel decoder.
//!
//! ```text
//! cargo run --release --features parallel --example gguf -- MODEL.gguf
//! cargo run --release --features parallel --example gguf -- MODEL.gguf --dump NAME OUT.f32
//! ```
//!
//! The file is memory-mapped and read in place. The example prints the model's architecture and
//! name, one line per tensor (name, type, dimensions innermost first, offset in the file, size
//! in bytes), then decodes every Q4_K tensor and prints the throughput. `--dump NAME PATH`
//! writes one Q4_K tensor's values to PATH as raw little-endian `f32`, for other tools to
//! compare. Any error is one line on stderr and a non-zero exit.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use memmap2::Mmap;
use q4k::gguf::{ErrorKind, GgmlType, Gguf};

/// Q4_K input above which decoding shows a progress bar (about a tenth of a second here).
const PROGRESS_BYTES: u64 = 64 << 20;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

struct Options {
    model: String,
    dump: Option<(String, String)>,
}

fn options() -> Result<Options, String> {
    const USAGE: &str = "usage: gguf MODEL.gguf [--dump TENSOR OUT.f32]";
    let mut args = std::env::args().skip(1);
    let mut model = None;
    let mut dump = None;
    while let Some(arg) = args.next() {
        if arg == "--dump" {
            match (args.next(), args.next()) {
                (Some(name), Some(path)) => dump = Some((name, path)),
                _ => return Err(format!("--dump needs a tensor name and a path; {USAGE}")),
            }
        } else if arg.starts_with("--") || model.is_some() {
            return Err(format!("unexpected argument {arg:?}; {USAGE}"));
        } else {
            model = Some(arg);
        }
    }
    let model = model.ok_or(USAGE)?;
    Ok(Options { model, dump })
}

fn run() -> Result<(), String> {
    let options = options()?;
    let path = &options.model;
    let file = File::open(path).map_err(|e| format!("{path}: {e}"))?;
    // SAFETY: the map is only read; the file must not be truncated or written while it is
    // mapped, which holds for a model file that nothing else is writing.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| format!("{path}: {e}"))?;
    let gguf = Gguf::parse(&map).map_err(|e| format!("{path}: {e}"))?;

    let text = |key: &str| match gguf.str_value(key) {
        Ok(s) => Ok(s.to_owned()),
        Err(e) if e.kind() == ErrorKind::MissingKey => Ok("(not given)".to_owned()),
        Err(e) => Err(format!("{path}: {key}: {e}")),
    };
    println!(
        "{path}: GGUF v{}, {} bytes, {} metadata entries, {} tensors, alignment {}",
        gguf.version(),
        map.len(),
        gguf.metadata_len(),
        gguf.tensor_count(),
        gguf.alignment()
    );
    println!("architecture: {}", text("general.architecture")?);
    println!("name: {}", text("general.name")?);

    if let Some((name, out)) = &options.dump {
        return dump(&gguf, name, out).map_err(|e| format!("{path}: {e}"));
    }

    let mut q4k_bytes = 0u64;
    let mut largest = 0usize;
    for info in gguf.tensors() {
        let dims: Vec<String> = info.dims().iter().map(u64::to_string).collect();
        let at = gguf.data_offset() as u64 + info.offset();
        print!(
            "{} {} [{}] offset {at} size {}",
            info.name(),
            info.ggml_type(),
            dims.join(", "),
            info.size_bytes()
        );
        match gguf.read(&info) {
            Ok(_) => println!(),
            Err(e) => println!(" (unreadable: {e})"),
        }
        if info.ggml_type() == GgmlType::Q4_K {
            q4k_bytes += info.size_bytes();
            largest = largest.max(usize::try_from(info.elements()).unwrap_or(usize::MAX));
        }
    }
    decode_all(&gguf, q4k_bytes, largest).map_err(|e| format!("{path}: {e}"))
}

/// Decodes every Q4_K tensor into one reused buffer and prints the throughput.
fn decode_all(gguf: &Gguf<'_>, total: u64, largest: usize) -> Result<(), String> {
    if total == 0 {
        println!("no Q4_K tensors");
        return Ok(());
    }
    let mut out = Vec::new();
    out.try_reserve_exact(largest)
        .map_err(|_| format!("cannot allocate {largest} f32 for the largest Q4_K tensor"))?;
    out.resize(largest, 0f32);
    let bar = if total > PROGRESS_BYTES {
        let bar = ProgressBar::new(total);
        let style = ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
            .map_err(|e| e.to_string())?;
        bar.set_style(style);
        bar
    } else {
        ProgressBar::hidden()
    };
    let (mut tensors, mut bytes, mut values) = (0usize, 0u64, 0u64);
    let mut busy = Duration::ZERO;
    for info in gguf.tensors().filter(|i| i.ggml_type() == GgmlType::Q4_K) {
        let tensor = gguf
            .read(&info)
            .and_then(|t| t.q4k())
            .map_err(|e| format!("{}: {e}", info.name()))?;
        let out = &mut out[..tensor.values()];
        bar.set_message(info.name().to_owned());
        let start = Instant::now();
        q4k::decode_parallel(tensor.bytes(), out).map_err(|e| format!("{}: {e}", info.name()))?;
        busy += start.elapsed();
        tensors += 1;
        bytes += tensor.bytes().len() as u64;
        values += tensor.values() as u64;
        bar.inc(tensor.bytes().len() as u64);
    }
    bar.finish_and_clear();
    let seconds = busy.as_secs_f64();
    println!(
        "decoded {tensors} Q4_K tensors, {values} values from {bytes} bytes in {:.1} ms: \
         {:.2} GB/s of Q4_K in, {:.2} GB/s of f32 out ({} kernel, {} threads)",
        seconds * 1e3,
        bytes as f64 / seconds / 1e9,
        values as f64 * 4.0 / seconds / 1e9,
        q4k::Kernel::best(),
        rayon::current_num_threads(),
    );
    Ok(())
}

/// Writes one Q4_K tensor's decoded values to `path` as raw little-endian `f32`.
fn dump(gguf: &Gguf<'_>, name: &str, path: &str) -> Result<(), String> {
    let tensor = gguf.tensor(name).map_err(|e| match e.kind() {
        ErrorKind::MissingTensor => format!("no tensor named {name:?}"),
        _ => format!("{name}: {e}"),
    })?;
    let w = tensor.q4k().map_err(|e| format!("{name}: {e}"))?;
    let mut values = vec![0f32; w.values()];
    q4k::decode_parallel(w.bytes(), &mut values).map_err(|e| format!("{name}: {e}"))?;
    let file = File::create(path).map_err(|e| format!("{path}: {e}"))?;
    let mut writer = BufWriter::new(file);
    for v in &values {
        writer
            .write_all(&v.to_le_bytes())
            .map_err(|e| format!("{path}: {e}"))?;
    }
    writer.flush().map_err(|e| format!("{path}: {e}"))?;
    println!(
        "{name}: {} rows of {} values written to {path} ({} bytes)",
        w.rows(),
        w.row_values(),
        values.len() * 4
    );
    Ok(())
}
