//! chsk-bench: a load generator that measures chsk against the raw WebSocket limit (a plain axum
//! WebSocket server) and against socketioxide, in one run, on one machine.
//!
//! The `chsk-bench` binary runs every scenario and prints one table; `serve <kind>` runs one
//! server in a child process (so its RSS and CPU time can be read from `/proc` in isolation);
//! `burst` measures the server's memory during 100 MB push bursts ([`burst`]).
//! See `BENCHMARKS.md` at the repository root.

pub mod burst;
pub mod http;
pub mod load;
pub mod proc;
pub mod report;
pub mod servers;
pub mod wire;
