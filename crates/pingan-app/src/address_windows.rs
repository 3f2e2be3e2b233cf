//! Counts per client address over fixed windows of time: the public report form's allowance and
//! the sign-in failures an address may make. Bounded and failing closed: at most
//! [`AddressWindows::MAX_ADDRESSES`] addresses are tracked, and when that many are in their window
//! a new address is refused (not waved through) until some window ends; a lock that a panic
//! poisoned still counts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

/// Whether an attempt may go ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// Refused until this instant (milliseconds), when the address's window ends.
    Refused {
        until: i64,
    },
}

pub struct AddressWindows {
    allowance: u32,
    window_ms: i64,
    most_addresses: usize,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    /// Per address: when its window began, and what it has used of it.
    by_address: HashMap<IpAddr, (i64, u32)>,
    /// No window ends before this: a full map is not searched for ended ones sooner.
    next_end: i64,
}

impl AddressWindows {
    pub const MAX_ADDRESSES: usize = 100_000;

    /// `allowance` attempts per address in each window of `window_ms`.
    pub fn new(allowance: u32, window_ms: i64) -> AddressWindows {
        AddressWindows::with_room(allowance, window_ms, Self::MAX_ADDRESSES)
    }

    fn with_room(allowance: u32, window_ms: i64, most_addresses: usize) -> AddressWindows {
        AddressWindows { allowance, window_ms, most_addresses, counts: Mutex::default() }
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts an attempt from `address` at `now`, unless its window's allowance is spent.
    pub fn attempt(&self, address: IpAddr, now: i64) -> Admission {
        let window = self.window_ms;
        let mut counts = self.counts();
        if !counts.by_address.contains_key(&address) && counts.by_address.len() >= self.most_addresses {
            if now < counts.next_end {
                return Admission::Refused { until: counts.next_end };
            }
            counts.by_address.retain(|_, (since, _)| now - *since < window);
            counts.next_end = counts.by_address.values().map(|(since, _)| since + window).min().unwrap_or(now);
            if counts.by_address.len() >= self.most_addresses {
                return Admission::Refused { until: counts.next_end };
            }
        }
        let (since, used) = counts.by_address.entry(address).or_insert((now, 0));
        if now - *since >= window {
            (*since, *used) = (now, 0);
        }
        if *used >= self.allowance {
            return Admission::Refused { until: *since + window };
        }
        *used += 1;
        Admission::Allowed
    }

    /// Gives back an attempt counted for `address` (one that turned out not to count: a right
    /// password).
    pub fn refund(&self, address: IpAddr) {
        if let Some((_, used)) = self.counts().by_address.get_mut(&address) {
            *used = used.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(n: u32) -> IpAddr {
        IpAddr::from(n.to_be_bytes())
    }

    #[test]
    fn an_address_has_its_allowance_per_window() {
        let windows = AddressWindows::new(2, 1000);
        assert_eq!(windows.attempt(address(1), 0), Admission::Allowed);
        assert_eq!(windows.attempt(address(1), 10), Admission::Allowed);
        assert_eq!(windows.attempt(address(1), 20), Admission::Refused { until: 1000 });
        assert_eq!(windows.attempt(address(2), 20), Admission::Allowed, "another address has its own");
        windows.refund(address(1));
        assert_eq!(windows.attempt(address(1), 30), Admission::Allowed, "a refunded attempt");
        assert_eq!(windows.attempt(address(1), 1000), Admission::Allowed, "a new window");
    }

    #[test]
    fn a_full_map_refuses_new_addresses_until_a_window_ends() {
        let windows = AddressWindows::with_room(5, 1000, 3);
        for n in 0..3 {
            assert_eq!(windows.attempt(address(n), i64::from(n) * 100), Admission::Allowed);
        }
        assert_eq!(windows.attempt(address(9), 500), Admission::Refused { until: 1000 }, "fails closed");
        assert_eq!(windows.attempt(address(1), 500), Admission::Allowed, "known addresses go on");
        assert_eq!(windows.attempt(address(9), 1000), Admission::Allowed, "address 0's window ended");
        assert_eq!(windows.attempt(address(8), 1050), Admission::Refused { until: 1100 });
    }

    #[test]
    fn a_poisoned_lock_still_counts() {
        let windows = std::sync::Arc::new(AddressWindows::new(1, 1000));
        let holder = windows.clone();
        let _ = std::thread::spawn(move || {
            let _held = holder.counts.lock();
            panic!("poisons the lock");
        })
        .join();
        assert!(windows.counts.is_poisoned());
        assert_eq!(windows.attempt(address(1), 0), Admission::Allowed);
        assert_eq!(windows.attempt(address(1), 1), Admission::Refused { until: 1000 });
    }
}
