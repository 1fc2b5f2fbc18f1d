//! A fault proxy on the links between the nodes' controllers (raft and the controller
//! channel): node `i` reaches node `j`'s controller listener through a proxy of its own
//! (`TestCluster::start_with_voters` writes those addresses into each node's
//! `controller.quorum.voters`), so one direction of one link can be cut. A cut link closes
//! its open connections and black-holes new ones (accepted, never forwarded, closed when
//! the link heals), as a network partition looks to TCP.
//!
//! Only controller links go through it: brokers reach each other (replica fetches,
//! transaction markers) on the advertised client listeners, which clients share.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why the proxies could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("binding a proxy listener: {0}")]
    Bind(#[source] std::io::Error),
    #[error("starting a proxy thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// One direction of one link (`from` reaching `to`).
#[derive(Debug)]
struct Link {
    port: u16,
    target: Mutex<Option<SocketAddr>>,
    cut: AtomicBool,
    /// Streams open through this link (both ends of each pair), to shut on a cut.
    open: Mutex<Vec<TcpStream>>,
}

impl Link {
    fn shut_all(&self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        for s in open.drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// The proxies of every ordered pair of `n` nodes.
#[derive(Debug, Clone)]
pub struct LinkProxies {
    links: Arc<HashMap<(usize, usize), Arc<Link>>>,
    stop: Arc<AtomicBool>,
}

impl LinkProxies {
    /// Binds a listener for every ordered pair of distinct nodes; each forwards once its
    /// target is known (set by [`LinkProxies::voters`]).
    pub fn start(n: usize) -> Result<LinkProxies, ProxyError> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut links = HashMap::new();
        for from in 0..n {
            for to in (0..n).filter(|t| *t != from) {
                let listener = TcpListener::bind("127.0.0.1:0").map_err(ProxyError::Bind)?;
                let port = listener.local_addr().map_err(ProxyError::Bind)?.port();
                listener.set_nonblocking(true).map_err(ProxyError::Bind)?;
                let link = Arc::new(Link {
                    port,
                    target: Mutex::new(None),
                    cut: AtomicBool::new(false),
                    open: Mutex::new(Vec::new()),
                });
                let (l, s) = (link.clone(), stop.clone());
                std::thread::Builder::new()
                    .name(format!("proxy-{from}-{to}"))
                    .spawn(move || accept_loop(listener, l, s))
                    .map_err(ProxyError::Thread)?;
                links.insert((from, to), link);
            }
        }
        Ok(LinkProxies {
            links: Arc::new(links),
            stop,
        })
    }

    /// Node `i`'s `controller.quorum.voters`: its own listener directly, every other
    /// node's through the proxy of that link (whose target this sets).
    pub fn voters(&self, i: usize, controller_ports: &[u16]) -> String {
        controller_ports
            .iter()
            .enumerate()
            .map(|(j, port)| match self.links.get(&(i, j)) {
                Some(link) => {
                    let target = SocketAddr::from(([127, 0, 0, 1], *port));
                    *link.target.lock().unwrap_or_else(|e| e.into_inner()) = Some(target);
                    format!("{j}@127.0.0.1:{}", link.port)
                }
                None => format!("{j}@127.0.0.1:{port}"),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Cuts (or heals) every link to and from `node`.
    pub fn isolate(&self, node: usize, cut: bool) {
        for ((from, to), link) in self.links.iter() {
            if *from == node || *to == node {
                link.cut.store(cut, Ordering::SeqCst);
                // Cut: sever what is open. Heal: close the black-holed connections, so
                // their clients reconnect through the healed link.
                link.shut_all();
            }
        }
    }
}

impl Drop for LinkProxies {
    fn drop(&mut self) {
        if Arc::strong_count(&self.links) == 1 {
            self.stop.store(true, Ordering::SeqCst);
            for link in self.links.values() {
                link.shut_all();
            }
        }
    }
}

fn accept_loop(listener: TcpListener, link: Arc<Link>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        let client = match listener.accept() {
            Ok((c, _)) => c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Err(_) => continue,
        };
        let _ = client.set_nonblocking(false);
        let keep = |s: &TcpStream| {
            if let Ok(c) = s.try_clone() {
                link.open.lock().unwrap_or_else(|e| e.into_inner()).push(c);
            }
        };
        if link.cut.load(Ordering::SeqCst) {
            keep(&client); // black-holed until the link heals
            continue;
        }
        let target = *link.target.lock().unwrap_or_else(|e| e.into_inner());
        let Some(target) = target else { continue };
        let Ok(server) = TcpStream::connect_timeout(&target, Duration::from_secs(2)) else {
            continue;
        };
        keep(&client);
        keep(&server);
        for (mut from, mut to) in [(&client, &server), (&server, &client)]
            .map(|(a, b)| (a.try_clone(), b.try_clone()))
            .into_iter()
            .filter_map(|(a, b)| Some((a.ok()?, b.ok()?)))
        {
            let link = link.clone();
            let _ = std::thread::Builder::new().spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                loop {
                    let n = match from.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if link.cut.load(Ordering::SeqCst) || to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = from.shutdown(Shutdown::Both);
                let _ = to.shutdown(Shutdown::Both);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server; its port.
    fn echo() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut s in l.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        port
    }

    /// Node 0's address of node 1, from its voters string.
    fn via(proxies: &LinkProxies, ports: &[u16]) -> String {
        let voters = proxies.voters(0, ports);
        let entry = voters.split(',').nth(1).unwrap();
        entry.split_once('@').unwrap().1.to_string()
    }

    fn round_trip(addr: &str) -> bool {
        let Ok(mut s) = TcpStream::connect(addr) else {
            return false;
        };
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut buf = [0u8; 4];
        s.write_all(b"ping").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"ping"
    }

    #[test]
    fn a_cut_link_black_holes_until_healed() {
        let proxies = LinkProxies::start(2).unwrap();
        let ports = [1, echo()];
        let addr = via(&proxies, &ports);
        assert_ne!(
            addr,
            format!("127.0.0.1:{}", ports[1]),
            "goes through the proxy"
        );
        assert!(round_trip(&addr));
        let mut open = TcpStream::connect(&addr).unwrap();
        open.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        proxies.isolate(1, true);
        // The open connection is severed, a new one is accepted but never answered.
        let mut buf = [0u8; 4];
        let _ = open.write_all(b"ping");
        assert!(open.read_exact(&mut buf).is_err());
        assert!(!round_trip(&addr));
        proxies.isolate(1, false);
        assert!(round_trip(&addr));
    }
}
