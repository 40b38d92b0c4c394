//! Browser client for chsk.
