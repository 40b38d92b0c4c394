//! The server runtime (feature `server`).
