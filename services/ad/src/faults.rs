//! What the ad service does when its failure flags are on: fail a call
//! (`adFailure`, one in ten as in the OpenTelemetry demo), burn CPU
//! (`adHighCpu`) or churn memory (`adManualGc`, our stand-in for the demo's
//! forced garbage collection). Both burdens are bounded per call and run on
//! the blocking pool, so they load the machine without starving the
//! runtime's other tasks.

use std::time::{Duration, Instant};

use boutique_flags::{
    Flags,
    names::{AD_FAILURE, AD_HIGH_CPU, AD_MANUAL_GC},
};
use tonic::Status;

/// CPU time burnt per call while `adHighCpu` is on.
pub const CPU_BURN: Duration = Duration::from_millis(20);
/// Memory allocated, touched and freed per call while `adManualGc` is on.
pub const GC_BURST_BYTES: usize = 32 << 20;

/// Applies the flags to one `GetAds` call: `Err` when it must fail.
pub(crate) async fn apply(flags: &Flags) -> Result<(), Status> {
    if !flags.is_configured() {
        return Ok(());
    }
    if flags.bool(AD_HIGH_CPU).await {
        run_blocking(burn_cpu).await;
    }
    if flags.bool(AD_MANUAL_GC).await {
        run_blocking(churn_memory).await;
    }
    if flags.bool(AD_FAILURE).await && rand::random_ratio(1, 10) {
        return Err(Status::unavailable("ads unavailable (flag adFailure)"));
    }
    Ok(())
}

async fn run_blocking(work: fn()) {
    // A failed join means the work panicked, which it cannot; the call goes on.
    let _ = tokio::task::spawn_blocking(work).await;
}

/// Spins on arithmetic for [`CPU_BURN`].
fn burn_cpu() {
    let start = Instant::now();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while start.elapsed() < CPU_BURN {
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        std::hint::black_box(x);
    }
}

/// Allocates [`GC_BURST_BYTES`] in 1 MiB blocks, writes every page so the
/// memory is really taken, then frees it all.
fn churn_memory() {
    const BLOCK: usize = 1 << 20;
    let blocks: Vec<Vec<u8>> = (0..GC_BURST_BYTES / BLOCK)
        .map(|i| {
            let mut block = vec![0u8; BLOCK];
            for page in block.iter_mut().step_by(4096) {
                *page = i as u8;
            }
            block
        })
        .collect();
    std::hint::black_box(&blocks);
}
