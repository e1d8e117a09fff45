//! The Heard widget (work in progress).
