//! The scenarios: what each one does to a server, and what it measures. Each runs on the load
//! client's runtime against a server child process ([`crate::proc::ServerProc`]).

pub mod ajax;
pub mod burst;
pub mod fanout;
pub mod idle;
pub mod latency;
pub mod rec;
pub mod reqrep;
pub mod storm;
