//! Developer tasks for chsk (`cargo run -p xtask -- <task>`, or `cargo xtask <task>`).
//!
//! - `demo [--addr HOST:PORT] [--no-opt]`: build the chat demo's wasm bundle and run its server.
//! - `build-web [--out DIR] [--no-opt]`: build the bundle only (`index.html` is served by the
//!   server; the bundle is `chat_web.js` + `chat_web_bg.wasm`).
//! - `size`: build the bundle and print its raw and gzipped sizes.
//!
//! Everything needed is installed on first use: the `wasm32-unknown-unknown` target through
//! rustup, wasm-bindgen as a library (no CLI to install), and `wasm-opt` from npm's `binaryen`
//! into `$HOME/.cache/chsk` when npm is present (the bundle is still built without it).

use std::{
    env,
    ffi::OsStr,
    fs,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

type Result<T = (), E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

const USAGE: &str = "usage: cargo run -p xtask -- <demo [--addr HOST:PORT] [--no-opt] | build-web [--out DIR] [--no-opt] | size>";
const WEB_CRATE: &str = "chat-web";
const SERVER_CRATE: &str = "chat-server";
const STEM: &str = "chat_web";

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
}

fn run(args: Vec<String>) -> Result {
    let (task, rest) = args.split_first().ok_or(USAGE)?;
    let mut opts = Opts {
        addr: "127.0.0.1:8080".into(),
        out: None,
        opt: true,
    };
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--addr" => opts.addr = it.next().ok_or("--addr needs a value")?.clone(),
            "--out" => opts.out = Some(it.next().ok_or("--out needs a value")?.into()),
            "--no-opt" => opts.opt = false,
            other => return Err(format!("unknown argument `{other}`\n{USAGE}").into()),
        }
    }
    match task.as_str() {
        "demo" => {
            let dist = build_web(&opts)?;
            run_server(&dist, &opts.addr)
        }
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

/// Builds the chat UI for the browser: cargo (profile `wasm`), wasm-bindgen, wasm-opt.
/// Returns the output directory.
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
    if opts.opt {
        match wasm_opt() {
            Some(bin) => {
                let tmp = out.join(format!("{STEM}_bg.opt.wasm"));
                status(Command::new(bin).arg("-Oz").arg(&wasm).arg("-o").arg(&tmp))?;
                fs::rename(&tmp, &wasm)?;
            }
            None => eprintln!(
                "xtask: wasm-opt not found and npm not available: bundle left unoptimized"
            ),
        }
    }
    Ok(out)
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
    let mut total = (0, 0);
    for name in [format!("{STEM}_bg.wasm"), format!("{STEM}.js")] {
        let path = dist.join(&name);
        let raw = fs::metadata(&path)?.len();
        let gz = gzipped_len(&path)?;
        total = (total.0 + raw, total.1 + gz);
        println!("{name:<20} {raw:>9} B raw  {gz:>8} B gzipped");
    }
    println!(
        "{:<20} {:>9} B raw  {:>8} B gzipped ({:.1} KiB)",
        "total",
        total.0,
        total.1,
        total.1 as f64 / 1024.0
    );
    Ok(())
}

fn gzipped_len(path: &Path) -> Result<u64> {
    let out = Command::new("gzip").arg("-9c").arg(path).output()?;
    if !out.status.success() {
        return Err(format!("gzip {} failed", path.display()).into());
    }
    Ok(out.stdout.len() as u64)
}
