//! Shared helpers for the example programs (none yet).
