//! Developer tasks for chsk (`cargo run -p xtask -- <task>`, or `cargo xtask <task>`).
//!
//! - `demo [--addr HOST:PORT] [--no-opt]`: build the chat demo's wasm bundle and run its server.
//! - `demo --nodes N [--addr HOST:PORT] [--no-opt]`: the same on N server processes sharing a
//!   `redis-server` of their own and one CSRF token, behind a TCP balancer at the address (each
//!   new connection to the next node; a node that refuses passes it on): see `nodes.rs`.
//! - `build-web [--out DIR] [--no-opt]`: build the bundle only (`index.html` is served by the
//!   server; the bundle is `chat_web.js` + `chat_web_bg.wasm`, each with a brotli `.br` and a
//!   gzip `.gz` copy beside it, which the server sends to browsers that accept them).
//! - `size`: build the bundle and print its raw, gzipped and brotli sizes.
//!
//! The bundle is rebuilt only when needed: cargo's build of the wasm is incremental, and
//! wasm-bindgen, wasm-opt and the compression run only when the stamp file in the output
//! directory (`.xtask-stamp`) does not match a hash of the input `.wasm`, the identity of this
//! xtask binary (which pins wasm-bindgen's version), of the `wasm-opt` used, and the options.
//!
//! Everything needed is installed on first use: the `wasm32-unknown-unknown` target through
//! rustup, wasm-bindgen as a library (no CLI to install), and `wasm-opt` from npm's `binaryen`
//! into `$HOME/.cache/chsk` when npm is present (the bundle is still built without it).

use std::{
    env,
    ffi::OsStr,
    fs,
    hash::{DefaultHasher, Hasher},
    io::Write,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
    time::{Instant, UNIX_EPOCH},
};

mod nodes;

type Result<T = (), E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

const USAGE: &str = "usage: cargo run -p xtask -- <demo [--nodes N] [--addr HOST:PORT] [--no-opt] | build-web [--out DIR] [--no-opt] | size>";
const WEB_CRATE: &str = "chat-web";
const SERVER_CRATE: &str = "chat-server";
const STEM: &str = "chat_web";
/// The stamp file in the output directory: what the bundle there was built from.
const STAMP: &str = ".xtask-stamp";

fn main() -> ExitCode {
    match run(env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Opts {
    addr: String,
    out: Option<PathBuf>,
    opt: bool,
    /// `demo --nodes N`: N chat servers behind a balancer.
    nodes: Option<usize>,
}

fn run(args: Vec<String>) -> Result {
    let (task, rest) = args.split_first().ok_or(USAGE)?;
    let mut opts = Opts {
        addr: "127.0.0.1:8080".into(),
        out: None,
        opt: true,
        nodes: None,
    };
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--addr" => opts.addr = it.next().ok_or("--addr needs a value")?.clone(),
            "--out" => opts.out = Some(it.next().ok_or("--out needs a value")?.into()),
            "--no-opt" => opts.opt = false,
            "--nodes" => {
                let n = it.next().ok_or("--nodes needs a value")?;
                match n.parse() {
                    Ok(n) if (1..=nodes::MAX_NODES).contains(&n) => opts.nodes = Some(n),
                    _ => {
                        let max = nodes::MAX_NODES;
                        return Err(format!("--nodes {n}: a number from 1 to {max}").into());
                    }
                }
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}").into()),
        }
    }
    match task.as_str() {
        "demo" => {
            let dist = build_web(&opts)?;
            match opts.nodes {
                Some(n) => nodes::run(&dist, &opts.addr, n),
                None => run_server(&dist, &opts.addr),
            }
        }
        _ if opts.nodes.is_some() => Err(format!("--nodes is for `demo`\n{USAGE}").into()),
        "build-web" => build_web(&opts).map(drop),
        "size" => {
            let dist = build_web(&opts)?;
            report_sizes(&dist)
        }
        _ => Err(USAGE.into()),
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn target_dir() -> PathBuf {
    env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

fn cache_dir() -> PathBuf {
    env::var_os("HOME").map_or_else(
        || target_dir().join("chsk-cache"),
        |home| PathBuf::from(home).join(".cache/chsk"),
    )
}

fn cargo() -> Command {
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

fn status(cmd: &mut Command) -> Result {
    eprintln!("xtask: running {cmd:?}");
    let st = cmd.status()?;
    if st.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {st}").into())
    }
}

/// Builds the chat UI for the browser: cargo (profile `wasm`), then, unless the bundle in the
/// output directory is already built from the same input (see [`STAMP`]), wasm-bindgen,
/// wasm-opt and the precompression. Returns the output directory.
fn build_web(opts: &Opts) -> Result<PathBuf> {
    ensure_wasm_target();
    status(cargo().args([
        "build",
        "-p",
        WEB_CRATE,
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        "wasm",
    ]))?;
    let input = target_dir().join(format!("wasm32-unknown-unknown/wasm/{STEM}.wasm"));
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| target_dir().join("chat-dist"));
    fs::create_dir_all(&out)?;
    let wasm_opt = if opts.opt { wasm_opt() } else { None };
    let key = bundle_key(&input, opts.opt, wasm_opt.as_deref())?;
    let stamp = out.join(STAMP);
    if fs::read_to_string(&stamp).ok().as_deref() == Some(&*outputs_stamp(&key, &out)) {
        eprintln!("xtask: bundle in {} is up to date", out.display());
        return Ok(out);
    }
    let _ = fs::remove_file(&stamp);
    let started = Instant::now();
    eprintln!(
        "xtask: wasm-bindgen {} -> {}",
        input.display(),
        out.display()
    );
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&input)
        .web(true)?
        .omit_default_module_path(false)
        .typescript(false)
        .generate(&out)
        .map_err(|e| format!("wasm-bindgen: {e:#}"))?;
    let wasm = out.join(format!("{STEM}_bg.wasm"));
    match wasm_opt {
        Some(bin) => {
            let tmp = out.join(format!("{STEM}_bg.opt.wasm"));
            status(Command::new(bin).arg("-Oz").arg(&wasm).arg("-o").arg(&tmp))?;
            fs::rename(&tmp, &wasm)?;
        }
        None if opts.opt => {
            eprintln!("xtask: wasm-opt not found and npm not available: bundle left unoptimized")
        }
        None => {}
    }
    for name in bundle_files() {
        precompress(&out.join(name))?;
    }
    fs::write(&stamp, outputs_stamp(&key, &out))?;
    eprintln!(
        "xtask: bundle built in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(out)
}

/// The files of the bundle.
fn bundle_files() -> [String; 2] {
    [format!("{STEM}.js"), format!("{STEM}_bg.wasm")]
}

/// What a bundle is built from: the input `.wasm` (a hash of its bytes), this xtask binary
/// (wasm-bindgen's version and the build steps are compiled into it), the `wasm-opt` used
/// and whether optimizing was asked for.
fn bundle_key(input: &Path, opt: bool, wasm_opt: Option<&Path>) -> Result<String> {
    let mut h = DefaultHasher::new();
    h.write(&fs::read(input).map_err(|e| format!("{}: {e}", input.display()))?);
    let mut key = format!("input {:016x}\nopt {opt}\n", h.finish());
    let exe = env::current_exe()?;
    key.push_str(&format!("xtask {}\n", file_identity(&exe)));
    if let Some(bin) = wasm_opt {
        key.push_str(&format!("wasm-opt {}\n", file_identity(bin)));
    }
    Ok(key)
}

/// A file (found on PATH when `path` is a bare name) as its canonical path, length and
/// modification time: changes when the file is replaced.
fn file_identity(path: &Path) -> String {
    let found = if path.components().count() == 1 {
        env::var_os("PATH")
            .and_then(|paths| {
                env::split_paths(&paths)
                    .map(|dir| dir.join(path))
                    .find(|p| p.is_file())
            })
            .unwrap_or_else(|| path.to_path_buf())
    } else {
        path.to_path_buf()
    };
    let real = fs::canonicalize(&found).unwrap_or(found);
    let meta = fs::metadata(&real).ok();
    let len = meta.as_ref().map_or(0, fs::Metadata::len);
    let mtime = meta
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{} {len} {mtime}", real.display())
}

/// The stamp: the key, then each output file with its length (a missing or changed output
/// makes the stamp differ, so the bundle is rebuilt).
fn outputs_stamp(key: &str, out: &Path) -> String {
    let mut stamp = key.to_string();
    for name in bundle_files() {
        for suffix in ["", ".br", ".gz"] {
            let file = format!("{name}{suffix}");
            let len = fs::metadata(out.join(&file)).map_or(-1, |m| m.len() as i64);
            stamp.push_str(&format!("{file} {len}\n"));
        }
    }
    stamp
}

/// Writes `<file>.br` (brotli, quality 11) and `<file>.gz` (gzip, level 9) beside `file`.
fn precompress(file: &Path) -> Result {
    let bytes = fs::read(file)?;
    let mut br = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        size_hint: bytes.len(),
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut br, &params)?;
    fs::write(with_suffix(file, ".br"), br)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&bytes)?;
    fs::write(with_suffix(file, ".gz"), gz.finish()?)?;
    Ok(())
}

fn with_suffix(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn ensure_wasm_target() {
    // Best effort: without rustup the target may still be installed (the build says if not).
    let _ = Command::new("rustup")
        .args(["target", "add", "wasm32-unknown-unknown"])
        .status();
}

/// `wasm-opt` on PATH, else from npm's `binaryen` in the cache (installed on first use).
fn wasm_opt() -> Option<PathBuf> {
    if on_path("wasm-opt") {
        return Some("wasm-opt".into());
    }
    let cache = cache_dir();
    let bin = cache.join("node_modules/.bin/wasm-opt");
    if bin.exists() {
        return Some(bin);
    }
    if !on_path("npm") {
        return None;
    }
    fs::create_dir_all(&cache).ok()?;
    let ok = status(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&cache)
            .arg("binaryen"),
    );
    (ok.is_ok() && bin.exists()).then_some(bin)
}

fn on_path(name: impl AsRef<OsStr>) -> bool {
    Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run_server(dist: &Path, addr: &str) -> Result {
    status(
        cargo()
            .args(["run", "-p", SERVER_CRATE, "--", "--dist"])
            .arg(dist)
            .args(["--addr", addr]),
    )
}

fn report_sizes(dist: &Path) -> Result {
    let len = |path: PathBuf| -> Result<u64> {
        Ok(fs::metadata(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len())
    };
    let mut total = [0; 3];
    for name in bundle_files() {
        let path = dist.join(&name);
        let sizes = [
            len(path.clone())?,
            len(with_suffix(&path, ".gz"))?,
            len(with_suffix(&path, ".br"))?,
        ];
        for (t, s) in total.iter_mut().zip(sizes) {
            *t += s;
        }
        println!(
            "{name:<20} {:>9} B raw  {:>8} B gzip  {:>8} B brotli",
            sizes[0], sizes[1], sizes[2]
        );
    }
    println!(
        "{:<20} {:>9} B raw  {:>8} B gzip  {:>8} B brotli ({:.1} KiB)",
        "total",
        total[0],
        total[1],
        total[2],
        total[2] as f64 / 1024.0
    );
    Ok(())
}
