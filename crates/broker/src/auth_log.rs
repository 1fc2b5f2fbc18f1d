//! Logs failed TLS handshakes and authentications once per peer address per
//! [`QUIET`]: a client retrying a wrong password in a loop (or a scanner sending garbage)
//! gives one warning a minute with the number of failures left out, not one per attempt.
//! The table of peers is bounded by [`MAX_PEERS`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The shortest time between two warnings about one peer.
pub const QUIET: Duration = Duration::from_secs(60);
/// Peers remembered; the table is cleared when it is full.
pub const MAX_PEERS: usize = 4096;

#[derive(Debug, Default)]
struct Table {
    /// Last warning and the failures not logged since.
    peers: HashMap<Option<IpAddr>, (Instant, u64)>,
}

fn table() -> &'static Mutex<Table> {
    static TABLE: OnceLock<Mutex<Table>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

/// Whether a failure of `peer` at `now` is logged, and how many were not since the last
/// warning.
fn admit(t: &mut Table, peer: Option<IpAddr>, now: Instant) -> Option<u64> {
    if t.peers.len() >= MAX_PEERS && !t.peers.contains_key(&peer) {
        t.peers.clear();
    }
    match t.peers.get_mut(&peer) {
        Some((last, skipped)) if now.duration_since(*last) < QUIET => {
            *skipped += 1;
            None
        }
        Some((last, skipped)) => {
            let n = *skipped;
            *last = now;
            *skipped = 0;
            Some(n)
        }
        None => {
            t.peers.insert(peer, (now, 0));
            Some(0)
        }
    }
}

/// Logs a failed TLS handshake or authentication of `peer` (rate-limited per address).
pub fn failure(peer: Option<std::net::SocketAddr>, listener: &str, what: &str, detail: &str) {
    let ip = peer.map(|p| p.ip());
    let admitted = match table().lock() {
        Ok(mut t) => admit(&mut t, ip, Instant::now()),
        Err(_) => Some(0),
    };
    if let Some(suppressed) = admitted {
        let peer = peer.map(|p| p.to_string()).unwrap_or_default();
        tracing::warn!(%peer, listener, suppressed, "{what}: {detail}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_peer_per_quiet_period() {
        let mut t = Table::default();
        let a = Some(IpAddr::from([10, 0, 0, 1]));
        let b = Some(IpAddr::from([10, 0, 0, 2]));
        let t0 = Instant::now();
        assert_eq!(admit(&mut t, a, t0), Some(0));
        assert_eq!(admit(&mut t, a, t0 + Duration::from_secs(1)), None);
        assert_eq!(admit(&mut t, a, t0 + Duration::from_secs(2)), None);
        assert_eq!(admit(&mut t, b, t0 + Duration::from_secs(2)), Some(0));
        assert_eq!(
            admit(&mut t, a, t0 + QUIET + Duration::from_secs(1)),
            Some(2)
        );
    }

    #[test]
    fn the_table_is_bounded() {
        let mut t = Table::default();
        let now = Instant::now();
        for i in 0..(MAX_PEERS as u32 + 10) {
            admit(&mut t, Some(IpAddr::from(i.to_be_bytes())), now);
        }
        assert!(t.peers.len() <= MAX_PEERS);
    }
}
