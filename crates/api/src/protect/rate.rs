//! Per-client token buckets with bounded memory.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Most clients tracked at once; beyond it the longest-idle bucket is forgotten (which only
/// ever lets that client start over with a full bucket).
const MAX_CLIENTS: usize = 100_000;

/// Token buckets by client: each refills at `rate` tokens a second up to `burst`; a request
/// takes one token.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    /// A bucket idle this long is full again, so forgetting it changes nothing.
    refill_time: Duration,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    /// `rate` > 0 tokens a second, buckets of `burst` tokens.
    pub fn new(rate: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate,
            burst,
            refill_time: Duration::from_secs_f64((burst / rate).min(86_400.0)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token of `client`'s bucket, or says in how many whole seconds one is available.
    pub fn check(&self, client: &str) -> Result<(), u64> {
        self.check_at(client, Instant::now())
    }

    /// Whether `client`'s bucket holds a token now, without taking it: `Err` with the whole
    /// seconds until it will.
    pub fn peek(&self, client: &str) -> Result<(), u64> {
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

    /// Forgets every bucket that has refilled; if none has, the longest-idle one.
    fn evict(&self, buckets: &mut HashMap<String, Bucket>, now: Instant) {
        buckets.retain(|_, b| now.saturating_duration_since(b.updated) < self.refill_time);
        if buckets.len() >= MAX_CLIENTS
            && let Some(oldest) = buckets
                .iter()
                .min_by_key(|(_, b)| b.updated)
                .map(|(k, _)| k.clone())
        {
            buckets.remove(&oldest);
        }
    }

    /// Clients currently tracked.
    pub fn tracked(&self) -> usize {
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
}
