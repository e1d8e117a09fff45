//! The Heard collector (work in progress).
