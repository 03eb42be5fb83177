//! Gives the heap's free memory back to the operating system.
//!
//! glibc's allocator keeps memory freed in the middle of its heaps mapped, so a process's
//! resident size stays at the high-water mark of its busiest moment (a burst of connections, a
//! large response) long after the memory is free. [`release_free_heap`], run periodically by
//! [`crate::run_service`], returns those pages.

use std::time::Duration;

/// How often a service returns its free heap pages.
pub(crate) const RELEASE_INTERVAL: Duration = Duration::from_secs(10);

/// Returns the free pages of every heap to the operating system (glibc's `malloc_trim`); takes
/// microseconds on a small heap. Does nothing where the allocator is not glibc's.
pub(crate) fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[expect(
        unsafe_code,
        reason = "malloc_trim takes no pointers and only releases memory the allocator owns"
    )]
    // SAFETY: `malloc_trim` is thread-safe and has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Calls [`release_free_heap`] every [`RELEASE_INTERVAL`], forever.
pub(crate) async fn release_periodically() {
    let mut ticks = tokio::time::interval(RELEASE_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        release_free_heap();
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    fn resident_anonymous_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("RssAnon:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    #[test]
    fn freed_memory_in_the_middle_of_the_heap_is_given_back() {
        // 64 MiB in 4 KiB blocks, written so that the pages are resident; then every block but
        // one in 64 is freed, so no free region reaches the top of the heap, where glibc would
        // trim on its own.
        let mut blocks: Vec<Option<Vec<u8>>> = (0..16_384).map(|_| Some(vec![1u8; 4096])).collect();
        for (i, block) in blocks.iter_mut().enumerate() {
            if i % 64 != 63 {
                *block = None;
            }
        }
        let before = resident_anonymous_kib();
        release_free_heap();
        let after = resident_anonymous_kib();
        assert!(
            before.saturating_sub(after) > 32 * 1024,
            "resident anonymous memory {before} KiB before, {after} KiB after"
        );
        drop(blocks);
    }
}
