//! Per-client token buckets with bounded memory.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Most clients tracked at once. When full, buckets that have refilled are forgotten (which
/// changes nothing for them), and if that frees too little, arbitrary ones until a tenth of the
/// room is free: one sweep per tenth of the room, so a flood of new addresses costs a sweep now
/// and then instead of one per request.
const MAX_CLIENTS: usize = 100_000;

/// Room a sweep makes, at least.
const SWEEP_FREES: usize = MAX_CLIENTS / 10;

/// Token buckets by client: each refills at `rate` tokens a second up to `burst`; a request
/// takes one token.
pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    /// A bucket idle this long is full again, so forgetting it changes nothing.
    refill_time: Duration,
    buckets: Mutex<HashMap<String, Bucket>>,
    sweeps: std::sync::atomic::AtomicUsize,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    /// `rate` > 0 tokens a second, buckets of `burst` tokens.
    pub(crate) fn new(rate: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate,
            burst,
            refill_time: Duration::from_secs_f64((burst / rate).min(86_400.0)),
            buckets: Mutex::new(HashMap::new()),
            sweeps: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Takes a token of `client`'s bucket, or says in how many whole seconds one is available.
    pub(crate) fn check(&self, client: &str) -> Result<(), u64> {
        self.check_at(client, Instant::now())
    }

    /// Whether `client`'s bucket holds a token now, without taking it: `Err` with the whole
    /// seconds until it will.
    pub(crate) fn peek(&self, client: &str) -> Result<(), u64> {
        self.peek_at(client, Instant::now())
    }

    fn peek_at(&self, client: &str, now: Instant) -> Result<(), u64> {
        let buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let Some(bucket) = buckets.get(client) else {
            return Ok(());
        };
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        let tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        if tokens >= 1.0 {
            Ok(())
        } else {
            Err(((1.0 - tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }

    fn check_at(&self, client: &str, now: Instant) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if !buckets.contains_key(client) && buckets.len() >= MAX_CLIENTS {
            self.evict(&mut buckets, now);
        }
        let bucket = buckets.entry(client.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - bucket.tokens) / self.rate;
        Err((wait.ceil() as u64).max(1))
    }

    /// Forgets every bucket that has refilled; then, while less than [`SWEEP_FREES`] is free,
    /// arbitrary ones.
    fn evict(&self, buckets: &mut HashMap<String, Bucket>, now: Instant) {
        self.sweeps
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        buckets.retain(|_, b| now.saturating_duration_since(b.updated) < self.refill_time);
        let excess = (buckets.len() + SWEEP_FREES).saturating_sub(MAX_CLIENTS);
        if excess > 0 {
            let doomed: Vec<String> = buckets.keys().take(excess).cloned().collect();
            for key in doomed {
                buckets.remove(&key);
            }
        }
    }

    /// Sweeps made to keep memory bounded.
    #[cfg(test)]
    fn sweeps(&self) -> usize {
        self.sweeps.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Clients currently tracked.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_client_waits_for_a_refill() {
        let limiter = RateLimiter::new(0.5, 2);
        let t0 = Instant::now();
        assert_eq!(limiter.check_at("a", t0), Ok(()));
        assert_eq!(limiter.check_at("a", t0), Ok(()));
        assert_eq!(limiter.check_at("a", t0), Err(2));
        assert_eq!(
            limiter.check_at("b", t0),
            Ok(()),
            "other clients are unaffected"
        );
        assert_eq!(limiter.check_at("a", t0 + Duration::from_secs(2)), Ok(()));
    }

    #[test]
    fn peeking_never_spends_a_token() {
        let limiter = RateLimiter::new(0.5, 1);
        let t0 = Instant::now();
        assert_eq!(limiter.peek_at("a", t0), Ok(()));
        assert_eq!(limiter.peek_at("a", t0), Ok(()));
        assert_eq!(limiter.check_at("a", t0), Ok(()));
        assert_eq!(limiter.peek_at("a", t0), Err(2));
        assert_eq!(limiter.peek_at("a", t0 + Duration::from_secs(2)), Ok(()));
    }

    #[test]
    fn memory_stays_bounded_by_forgetting_idle_clients() {
        let limiter = RateLimiter::new(1000.0, 1);
        let t0 = Instant::now();
        for i in 0..MAX_CLIENTS {
            limiter.check_at(&i.to_string(), t0).unwrap();
        }
        limiter
            .check_at("late", t0 + Duration::from_secs(1))
            .unwrap();
        assert_eq!(limiter.tracked(), 1, "refilled buckets are forgotten");
        for i in 0..MAX_CLIENTS {
            let _ = limiter.check_at(&i.to_string(), t0 + Duration::from_secs(1));
        }
        assert!(limiter.tracked() <= MAX_CLIENTS);
    }

    #[test]
    fn a_flood_of_new_clients_costs_one_sweep_per_tenth_of_the_room() {
        // Nothing refills within the flood: every sweep has to make room by itself.
        let limiter = RateLimiter::new(0.001, 1);
        let t0 = Instant::now();
        for i in 0..MAX_CLIENTS {
            limiter.check_at(&format!("a{i}"), t0).unwrap();
        }
        assert_eq!(limiter.sweeps(), 0);
        for i in 0..2 * SWEEP_FREES {
            limiter.check_at(&format!("b{i}"), t0).unwrap();
        }
        assert!(limiter.tracked() <= MAX_CLIENTS);
        assert!(
            limiter.sweeps() <= 2,
            "{} sweeps for {} new clients",
            limiter.sweeps(),
            2 * SWEEP_FREES
        );
    }
}
