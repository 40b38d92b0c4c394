//! chsk-bench: a load generator that measures chsk against the raw WebSocket limit (a plain axum
//! WebSocket server) and against socketioxide, in one run, on one machine.
//!
//! The `chsk-bench` binary runs every scenario and prints one table; `serve <kind>` runs one
//! server in a child process (so its RSS and CPU time can be read from `/proc` in isolation);
//! `burst` measures the server's memory during 100 MB push bursts ([`scenario::burst`]).
//! See `BENCHMARKS.md` at the repository root.
//!
//! From the top down: [`run`] runs the chosen [`scenario`]s against the [`servers`] (each in a
//! child process, [`proc`]) and hands what they measured to [`report`]; the scenarios drive
//! the servers through the load [`client`] and [`http`], speak the frames of [`wire`], count with
//! [`stats`], and write numbers as [`units`] says.

pub mod client;
pub mod http;
pub mod proc;
pub mod report;
pub mod run;
pub mod scenario;
pub mod servers;
pub mod stats;
pub mod units;
pub mod wire;
