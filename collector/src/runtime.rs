//! The async runtime's threads, next to the writer's.
//!
//! Requests (HTTP, JSON, validation, the domain's checks) run on the
//! runtime's worker threads; every acknowledgement then waits for the one
//! writer thread (`store/writer.rs`), intake's serial stage. Tokio starts
//! one worker per core by default, so on a small server the workers
//! outnumber the cores the writer can have, and a worker woken by a reply
//! took the writer's core. The runtime keeps one core for the writer: a
//! worker for every core but one. Request work is the smaller share (about
//! a quarter of a core at 3 000 complaints a second on the two-core bench
//! machine, BENCHMARKS.md), so one worker carries a small server's intake.
//! `TOKIO_WORKER_THREADS`, tokio's own variable, still decides when set.

use std::num::NonZeroUsize;

/// The variable tokio reads for its worker count.
const WORKERS_VARIABLE: &str = "TOKIO_WORKER_THREADS";

/// Worker threads for a machine with `cores` cores: all but one, at least
/// one.
pub fn request_workers(cores: NonZeroUsize) -> usize {
    cores.get().saturating_sub(1).max(1)
}

/// The multi-threaded runtime the collector serves on.
pub fn build() -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if std::env::var_os(WORKERS_VARIABLE).is_none() {
        let cores = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
        builder.worker_threads(request_workers(cores));
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workers(cores: usize) -> usize {
        request_workers(NonZeroUsize::new(cores).unwrap())
    }

    #[test]
    fn every_core_but_one_runs_requests() {
        assert_eq!(workers(1), 1);
        assert_eq!(workers(2), 1);
        assert_eq!(workers(4), 3);
        assert_eq!(workers(64), 63);
    }

    #[test]
    fn the_runtime_runs_its_workers() {
        let runtime = build().unwrap();
        let expected = match std::env::var(WORKERS_VARIABLE) {
            Ok(value) => value.parse().unwrap(),
            Err(_) => request_workers(std::thread::available_parallelism().unwrap()),
        };
        assert_eq!(runtime.metrics().num_workers(), expected);
    }
}
