//! Listener ports for test clusters, whose nodes must know each other's ports before any of
//! them starts.
//!
//! A port taken with `bind(127.0.0.1:0)` and closed again comes from the kernel's ephemeral
//! range (`net.ipv4.ip_local_port_range`), the same range every outgoing connection's local
//! port comes from: between the close and the node's own bind, a connection between two
//! other nodes (or another test) may take it, and the node fails with "Address already in
//! use" (this happened in CI). So ports come from below the ephemeral range, where no
//! outgoing connection ever lands; each is held bound ([`PortReservation`]) until just before
//! the node starts, so a concurrent test process scanning the same window skips it; and each
//! process scans from its own offset (its pid), so two processes rarely meet at all.

use std::net::TcpListener;
use std::sync::Mutex;

/// Lowest port handed out: above the well-known and most registered service ports.
const WINDOW_LOW: u16 = 10_000;
/// Used as the ephemeral range's start when `/proc` does not say (Linux's default).
const DEFAULT_EPHEMERAL_LOW: u16 = 32_768;
/// Candidates tried per port before giving up.
const MAX_TRIES: usize = 2_000;

/// The next candidate of this process, as an offset into the window (`None` before the
/// first use).
static CURSOR: Mutex<Option<u32>> = Mutex::new(None);

/// Ports bound (so nobody else takes them) until [`PortReservation::release`].
#[derive(Debug, Default)]
pub struct PortReservation {
    held: Vec<TcpListener>,
}

impl PortReservation {
    /// Reserves one more port below the ephemeral range and returns it.
    pub fn take(&mut self) -> std::io::Result<u16> {
        let (low, high) = window();
        let width = u32::from(high - low);
        let mut cursor = CURSOR.lock().unwrap_or_else(|e| e.into_inner());
        let next = cursor.get_or_insert_with(|| (std::process::id().wrapping_mul(7_919)) % width);
        for _ in 0..MAX_TRIES {
            let port = low + (*next % width) as u16;
            *next = (*next + 1) % width;
            if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
                self.held.push(listener);
                return Ok(port);
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!("no free port in {low}..{high} after {MAX_TRIES} tries"),
        ))
    }

    /// Closes every held listener, so the nodes can bind their ports.
    pub fn release(&mut self) {
        self.held.clear();
    }
}

/// `[low, high)`: the ports handed out, below the ephemeral range.
fn window() -> (u16, u16) {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(DEFAULT_EPHEMERAL_LOW);
    if ephemeral_low > WINDOW_LOW + 1_000 {
        (WINDOW_LOW, ephemeral_low)
    } else {
        // An ephemeral range reaching this low leaves no safe window: use the ports above it.
        (ephemeral_low.max(1_024), u16::MAX)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reserved_ports_are_distinct_held_and_below_the_ephemeral_range() {
        let mut r = PortReservation::default();
        let ports: Vec<u16> = (0..20).map(|_| r.take().unwrap()).collect();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len(), "{ports:?}");
        let (low, high) = window();
        assert!(ports.iter().all(|p| (low..high).contains(p)), "{ports:?}");
        // Held: nobody else can bind them until released.
        assert!(TcpListener::bind(("127.0.0.1", ports[0])).is_err());
        r.release();
        assert!(TcpListener::bind(("127.0.0.1", ports[0])).is_ok());
    }
}
