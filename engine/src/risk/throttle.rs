//! A token bucket in integer nanoseconds: `rate` tokens per second, at most `burst`.

/// A token bucket.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    /// Tokens × 1e9, so refills need no division.
    nano_tokens: u128,
    capacity: u128,
    rate: u128,
    last: u64,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate_per_sec: u32, burst: u32, now: u64) -> Self {
        let capacity = u128::from(burst.max(1)) * 1_000_000_000;
        Self { nano_tokens: capacity, capacity, rate: u128::from(rate_per_sec), last: now }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: u64) -> bool {
        let elapsed = u128::from(now.saturating_sub(self.last));
        self.last = self.last.max(now);
        self.nano_tokens = (self.nano_tokens + elapsed * self.rate).min(self.capacity);
        if self.nano_tokens >= 1_000_000_000 {
            self.nano_tokens -= 1_000_000_000;
            true
        } else {
            false
        }
    }
}

impl TokenBucket {
    /// Gives back a token taken for a message another bucket then held back.
    pub fn refund(&mut self) {
        self.nano_tokens = (self.nano_tokens + 1_000_000_000).min(self.capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let mut b = TokenBucket::new(10, 3, 0);
        assert_eq!((0..5).filter(|_| b.try_take(0)).count(), 3);
        assert!(!b.try_take(99_999_999), "a tenth of a second refills one token, not before");
        assert!(b.try_take(100_000_000));
        assert!(!b.try_take(100_000_000));
        assert_eq!((0..20).filter(|_| b.try_take(10_000_000_000)).count(), 3, "never more than the burst");
        b.refund();
        assert!(b.try_take(10_000_000_000), "a refunded token");
        (0..5).for_each(|_| b.refund());
        assert_eq!((0..20).filter(|_| b.try_take(10_000_000_000)).count(), 3, "refunds never pass the burst");
    }
}
