//! The client: runtime-neutral core (feature `client`) and the native client (feature `client-native`).
