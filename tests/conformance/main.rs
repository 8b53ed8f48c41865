//! The implementation against what is written elsewhere: docs/spec.md's vectors and tables,
//! and an independent X.509 implementation (Python `cryptography`, driven by
//! tests/interop/verify_chain.py).

#[path = "../common/mod.rs"]
mod common;

mod interop_python;
mod spec_vectors;
