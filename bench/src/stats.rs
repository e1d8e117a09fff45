//! Latency summaries: nearest-rank percentiles over recorded samples.

use std::time::Duration;

/// The value at or below which `percent` of `sorted` lies (nearest-rank
/// method), or `None` for no samples. `sorted` must be in ascending order.
pub fn percentile(sorted: &[Duration], percent: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let percent = percent.clamp(0.0, 100.0);
    // Nearest rank: the smallest sample with at least `percent` of all samples
    // at or below it. Rank 1 is the minimum, so p0 is the minimum too.
    let rank = ((percent / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// What one load run measured.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// `201 Created` answers: complaints committed before the answer.
    pub acknowledged: u64,
    /// Anything else: other statuses, connection failures, timeouts.
    pub errors: u64,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// Cores busy during the run, filled in by whoever watched the processes.
    pub cpu: CpuUse,
}

/// Average cores used over a run (CPU seconds per second of wall time).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUse {
    /// The whole collector process.
    pub collector: f64,
    /// The collector's writer thread alone (part of `collector`).
    pub writer: f64,
    /// The load generator.
    pub generator: f64,
    /// Everything else on the machine (other processes, the kernel's own
    /// work): the machine may be shared, and this shows how much it was.
    pub others: f64,
}

impl RunSummary {
    /// Summarises the latencies of acknowledged requests.
    pub fn new(mut latencies: Vec<Duration>, errors: u64, elapsed: Duration) -> RunSummary {
        latencies.sort_unstable();
        let at = |percent| percentile(&latencies, percent).unwrap_or_default();
        RunSummary {
            acknowledged: latencies.len() as u64,
            errors,
            elapsed,
            p50: at(50.0),
            p99: at(99.0),
            max: latencies.last().copied().unwrap_or_default(),
            cpu: CpuUse::default(),
        }
    }

    /// Acknowledged complaints per second of wall time.
    pub fn per_second(&self) -> f64 {
        per_second(self.acknowledged, self.elapsed)
    }
}

/// `count` events over `elapsed`, per second (0 for no time).
pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// A duration as the report shows it: milliseconds with one decimal, or
/// seconds with two from one second up.
pub fn millis(duration: Duration) -> String {
    if duration >= Duration::from_secs(1) {
        format!("{:.2} s", duration.as_secs_f64())
    } else {
        format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().copied().map(Duration::from_millis).collect()
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples = ms(&(1..=100).collect::<Vec<_>>());
        assert_eq!(percentile(&samples, 50.0), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&samples, 99.0), Some(Duration::from_millis(99)));
        assert_eq!(
            percentile(&samples, 100.0),
            Some(Duration::from_millis(100))
        );
        assert_eq!(percentile(&samples, 0.0), Some(Duration::from_millis(1)));

        let few = ms(&[10, 20, 30]);
        assert_eq!(percentile(&few, 50.0), Some(Duration::from_millis(20)));
        assert_eq!(percentile(&few, 99.0), Some(Duration::from_millis(30)));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn a_summary_counts_only_acknowledged_latencies() {
        let summary = RunSummary::new(ms(&[30, 10, 20, 40]), 3, Duration::from_secs(2));
        assert_eq!(summary.acknowledged, 4);
        assert_eq!(summary.errors, 3);
        assert_eq!(summary.p50, Duration::from_millis(20));
        assert_eq!(summary.max, Duration::from_millis(40));
        assert_eq!(summary.per_second(), 2.0);
        assert_eq!(millis(Duration::from_micros(1340)), "1.3 ms");
        assert_eq!(millis(Duration::from_millis(10_368)), "10.37 s");
    }
}
