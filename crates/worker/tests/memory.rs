//! The worker's heap stays flat under a steady stream of workflows: what it holds per workflow
//! and per activity is released when they finish (a soak of the worker once grew ~1 MiB a minute
//! because every activity's task token stayed in the SDK worker for the life of the process).
//!
//! Its own test binary: the counting allocator below sees every allocation in the process, and
//! the real worker, Temporal client and workflows run in-process against a real dev server.
#![expect(
    unsafe_code,
    reason = "a global allocator that counts live bytes must implement the unsafe GlobalAlloc"
)]

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::{
        Arc,
        atomic::{AtomicIsize, Ordering},
    },
    time::Duration,
};

use flowgate_testkit::{TestEnv, temporal};
use serde_json::json;
use temporalio_client::{Client, UntypedWorkflow, WorkflowGetResultOptions};
use tokio::task::JoinSet;

/// Bytes allocated and not yet freed, across the whole process.
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE_BYTES.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Workflows in flight at once.
const CONCURRENCY: usize = 16;

/// Runs `count` one-item shopping workflows (ids `{prefix}-{n}`) to completion, `CONCURRENCY` at
/// a time, straight through Temporal.
async fn run_workflows(client: &Arc<Client>, prefix: &str, count: usize) {
    let mut running = JoinSet::new();
    for n in 0..count {
        if running.len() == CONCURRENCY {
            running
                .join_next()
                .await
                .expect("a workflow")
                .expect("no panic");
        }
        let client = client.clone();
        let id = format!("{prefix}-{n}");
        running.spawn(async move {
            let input = json!({"items": [{"fruit": "APPLE", "amount": 1}]});
            temporal::start_raw(&client, "ShoppingWorkflow", "shopping-tasks", &id, &input).await;
            let result = tokio::time::timeout(
                Duration::from_secs(60),
                client
                    .get_workflow_handle::<UntypedWorkflow>(&id)
                    .get_result(WorkflowGetResultOptions::default()),
            )
            .await
            .unwrap_or_else(|_| panic!("{id} completes within a minute"));
            assert!(result.is_ok(), "{id} completed: {result:?}");
        });
    }
    while let Some(done) = running.join_next().await {
        done.expect("no panic");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_heap_does_not_grow_with_the_number_of_workflows_run() {
    let env = TestEnv::builder()
        .without_api()
        // A small workflow cache fills during the warm-up; what is cached after that is bounded.
        .settings(|s| s.worker.max_cached_workflows = 8)
        .temporal_dynamic_config("history.transferProcessorMaxPollRPS", "10000")
        .temporal_dynamic_config("history.timerProcessorMaxPollRPS", "10000")
        .start()
        .await;
    let client = Arc::new(env.temporal_client().await);

    // Warm-up: connection pools, caches, metric series and map capacities reach their size.
    run_workflows(&client, "warm-up", 1000).await;
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    const MEASURED: usize = 1200;
    run_workflows(&client, "measured", MEASURED).await;

    // Leaking one small record per activity (a task token and a cancellation token with their
    // map entry) measured ~290 bytes per one-item workflow here; after this warm-up, the
    // difference between the two readings is within a few KiB either way once the worker is
    // idle. On a busy machine the worker may still hold buffers of its last tasks when the
    // last result arrives, so the reading is the lowest one while it settles: a leak never
    // goes down.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut after = LIVE_BYTES.load(Ordering::Relaxed);
    while (after - before) / MEASURED as isize >= 64 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = after.min(LIVE_BYTES.load(Ordering::Relaxed));
    }
    let per_workflow = (after - before) / MEASURED as isize;
    eprintln!(
        "live heap: {before} bytes after the warm-up, {after} after {MEASURED} more workflows"
    );
    assert!(
        per_workflow < 64,
        "live heap grew by {} bytes over {MEASURED} workflows ({per_workflow} bytes each)",
        after - before
    );
}
