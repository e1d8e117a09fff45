//! The "Footprint" section's rows for the collector on a million
//! complaints, and the paragraph that says how they were measured.

use std::fmt;
use std::fmt::Write as _;

use super::{group_digits, paragraph};
use crate::footprint_1m::{
    INBOX_CONNECTIONS, INTAKE_CONNECTIONS, LoadRun, Memory1m, SECONDS, SETTLE, mebibytes,
};
use crate::stats::millis;

/// The target from issue 8: 100 MB.
const TARGET_BYTES: u64 = 100_000_000;

/// Table rows, in the section's `| what | measured | bounded by |` shape.
pub fn write_rows(out: &mut String, memory: &Memory1m) -> fmt::Result {
    let store = short_count(memory.complaints);
    let shipped = &memory.shipped;
    writeln!(
        out,
        "| resident memory (`VmRSS`) idle after start on the {store} store | {:.1} MiB | the binary's touched pages, the runtime's threads, SQLite's connections (writer, indexer, idle readers) with their page caches still cold |",
        mebibytes(shipped.idle_rss)
    )?;
    writeln!(
        out,
        "| peak memory (`VmHWM`) on the {store} store, {SECONDS} s of intake and inbox requests at once | {:.1} MiB ({}) | SQLite's page caches (writer, indexer, at most 16 readers, each with the attached search index), the intake connections' buffers and the write queue, one Argon2id sign-in (its `password_hash_memory_kib` while it runs), in the two malloc arenas the collector limits itself to |",
        mebibytes(shipped.peak_rss),
        verdict(shipped.peak_rss)
    )?;
    writeln!(
        out,
        "| the same with glibc's default arenas (`MALLOC_ARENA_MAX={}`, a diagnostic, not how the collector ships) | {:.1} MiB | an arena per allocating thread (readers, workers, writer, indexer), each keeping the memory freed into it |",
        memory.default_arena_count,
        mebibytes(memory.default_arenas.peak_rss)
    )
}

/// How the rows were measured, as a paragraph.
pub fn write_notes(out: &mut String, memory: &Memory1m) -> fmt::Result {
    let proof = if memory.proof_of_work {
        "Each complaint carried a solved proof-of-work challenge, fetched \
         on its connection before it (at the lowest difficulty, as in \
         \"Intake\")."
    } else {
        "The copy ran with the proof-of-work requirement off."
    };
    let run = |name: &str, run: &LoadRun| {
        format!(
            "{name}: {} complaints acknowledged ({}/s, p99 {}, {} errors), \
             {} inbox answers (p50 {}, p99 {}, {} errors), largest `VmRSS` \
             sampled every 50 ms {:.1} MiB, {} warnings or errors logged",
            group_digits(run.intake.acknowledged),
            group_digits(run.intake.per_second().round() as u64),
            millis(run.intake.p99),
            run.intake.errors,
            group_digits(run.inbox_requests),
            millis(run.inbox_p50),
            millis(run.inbox_p99),
            run.inbox_errors,
            mebibytes(run.sampled_max_rss),
            run.logged_problems
        )
    };
    paragraph(
        out,
        &format!(
            "The million-complaint rows: the release `collector serve` on a \
             copy of the generated store of \"Inbox at scale\" ({} \
             complaints; the copy is migrated and written, the kept store is \
             not), its cluster sweep's cursor set past the generated rows as \
             a collector that kept up would have it, an owner created with \
             `collector user add`. Idle is read {} after the listening line. \
             Then for {SECONDS} s at once: intake from `bench/`'s load \
             generator ({INTAKE_CONNECTIONS} keep-alive connections, closed \
             loop) into the largest merchant's first site, and the inbox API \
             with the owner's session ({INBOX_CONNECTIONS} keep-alive \
             connections, closed loop: the default page, open complaints, \
             four searches and single complaints in turn); its search \
             index is brought up to date before the runs, not rebuilt during \
             them. {}. {}. {proof} \
             The inbox's p99 here is that of searches sharing two cores with \
             a saturating intake, not of the inbox alone (see \"Inbox at \
             scale\"). The machine was shared with other engineers' \
             compilers: load average {} before these runs, {} after.",
            group_digits(memory.complaints),
            millis(SETTLE),
            run("As shipped", &memory.shipped),
            run(
                &format!(
                    "With glibc's default arenas ({})",
                    memory.default_arena_count
                ),
                &memory.default_arenas
            ),
            memory.load_before,
            memory.load_after,
        ),
    )
}

/// Against 100 MB (10⁸ bytes, about 95.4 MiB), margins in MB.
fn verdict(bytes: u64) -> String {
    let megabytes = |bytes: u64| bytes as f64 / 1e6;
    if bytes <= TARGET_BYTES {
        format!(
            "target ≤ 100 MB met, {:.1} MB to spare",
            megabytes(TARGET_BYTES - bytes)
        )
    } else {
        format!(
            "target ≤ 100 MB **missed** by {:.1} MB",
            megabytes(bytes - TARGET_BYTES)
        )
    }
}

/// `1M` for a million, else the number grouped.
fn short_count(count: u64) -> String {
    if count % 1_000_000 == 0 && count > 0 {
        format!("{}M", count / 1_000_000)
    } else {
        group_digits(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_a_hundred_decimal_megabytes() {
        assert_eq!(verdict(90_000_000), "target ≤ 100 MB met, 10.0 MB to spare");
        assert_eq!(verdict(104_857_600), "target ≤ 100 MB **missed** by 4.9 MB");
        assert_eq!(short_count(1_000_000), "1M");
        assert_eq!(short_count(1_500), "1 500");
    }
}
