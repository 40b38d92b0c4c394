//! axum adapter for chsk.
