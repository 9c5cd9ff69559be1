//! A fault-injecting TCP relay in front of a real `redis-server`, for the fault-injection test of
//! the shared store (`tests/redis_faults.rs`).
//!
//! Every client connection gets its own upstream connection to Redis and two pumps (requests
//! up, replies down). A seeded random generator (xorshift64*, one stream per connection, drawn
//! from the relay's seed and the connection's index) decides, chunk by chunk, what happens to the
//! bytes:
//!
//! - requests: forwarded; or delayed a little; or split in two with a pause between the halves;
//!   or delayed *longer than the client's I/O timeout*, so that the client gives up and sends its
//!   batch again on a new connection while the old bytes are still on their way (they are
//!   delivered to Redis afterwards: the in-flight case); or dropped (the client side is closed,
//!   nothing forwarded); or cut after being forwarded (both sides closed before the reply);
//! - replies: forwarded; or delayed (a little, or past the client's timeout); or cut (discarded,
//!   both sides closed); or cut half-way (part of the reply delivered, then both sides closed);
//! - connections: now and then refused at once.
//!
//! Each fault is counted by kind in [`Faults`]. Nothing here depends on the store's protocol: it
//! only counts, for the figures, the chunks that carry a batch (`EVAL`) and the replies of a
//! batch the script skipped (`[0, 0]`, the store's "applied already").
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// xorshift64* (Vigna): small, fast, good enough to pick faults; never zero.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // splitmix64 of the seed, so that nearby seeds give unrelated streams (and never 0).
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 0x2545_F491_4F6C_DD1D } else { z })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        (self.next_u64() >> 11) % n
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}

/// The faults a relay injected, by kind, and what it carried.
#[derive(Debug, Default)]
pub struct Faults {
    /// Client connections accepted.
    pub connections: AtomicU64,
    /// Connections closed at once, before anything was read.
    pub refused: AtomicU64,
    /// Connections closed because Redis could not be reached (it was down).
    pub upstream_down: AtomicU64,
    /// Request chunks forwarded (one or more per batch).
    pub request_chunks: AtomicU64,
    /// Request chunks that carried the start of a batch (`EVAL`).
    pub batches: AtomicU64,
    /// Requests delayed less than the client's I/O timeout.
    pub short_delays: AtomicU64,
    /// Requests delayed past the client's I/O timeout, then delivered to Redis anyway.
    pub late_requests: AtomicU64,
    /// Of those, the ones delivered after the client had closed the connection (given up and,
    /// by then, sent its batch again elsewhere): stale copies reaching Redis.
    pub stale_deliveries: AtomicU64,
    /// Batch replies saying the script skipped the batch (`[0, 0]`): a copy of a batch Redis
    /// had already applied (a resend after an unknown outcome, or a stale copy).
    pub skipped_batches: AtomicU64,
    /// Requests split in two with a pause between the halves.
    pub splits: AtomicU64,
    /// Requests dropped: client side closed, nothing forwarded.
    pub drops: AtomicU64,
    /// Requests forwarded, then both sides closed before the reply.
    pub cuts_after_request: AtomicU64,
    /// Replies delayed less than the client's I/O timeout.
    pub short_reply_delays: AtomicU64,
    /// Replies delayed past the client's I/O timeout.
    pub late_replies: AtomicU64,
    /// Replies discarded and both sides closed.
    pub cut_replies: AtomicU64,
    /// Replies delivered in part, then both sides closed.
    pub partial_replies: AtomicU64,
}

impl Faults {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Every fault injected (delays included; the chunks and connections carried are not faults).
    pub fn injected(&self) -> u64 {
        [
            &self.refused,
            &self.short_delays,
            &self.late_requests,
            &self.splits,
            &self.drops,
            &self.cuts_after_request,
            &self.short_reply_delays,
            &self.late_replies,
            &self.cut_replies,
            &self.partial_replies,
        ]
        .iter()
        .map(|c| Faults::get(c))
        .sum()
    }

    /// The faults after which the client cannot know whether its batch ran (late, cut or
    /// dropped requests and replies; a dropped request did not run, but the client cannot tell).
    pub fn in_doubt(&self) -> u64 {
        [
            &self.late_requests,
            &self.drops,
            &self.cuts_after_request,
            &self.late_replies,
            &self.cut_replies,
            &self.partial_replies,
        ]
        .iter()
        .map(|c| Faults::get(c))
        .sum()
    }

    /// One line of figures.
    pub fn summary(&self) -> String {
        let g = Faults::get;
        format!(
            "connections={} batches={} request_chunks={} skipped_batches={} refused={} \
             upstream_down={} short_delays={} late_requests={} (stale_deliveries={}) splits={} \
             drops={} cuts_after_request={} short_reply_delays={} late_replies={} \
             cut_replies={} partial_replies={}",
            g(&self.connections),
            g(&self.batches),
            g(&self.request_chunks),
            g(&self.skipped_batches),
            g(&self.refused),
            g(&self.upstream_down),
            g(&self.short_delays),
            g(&self.late_requests),
            g(&self.stale_deliveries),
            g(&self.splits),
            g(&self.drops),
            g(&self.cuts_after_request),
            g(&self.short_reply_delays),
            g(&self.late_replies),
            g(&self.cut_replies),
            g(&self.partial_replies),
        )
    }
}

/// How often the relay injects each fault, and how long its delays are.
#[derive(Debug, Clone, Copy)]
pub struct ChaosConfig {
    pub seed: u64,
    /// Faults per thousand request chunks, by kind.
    pub drop_per_mille: u64,
    pub cut_after_request_per_mille: u64,
    pub late_request_per_mille: u64,
    pub short_delay_per_mille: u64,
    pub split_per_mille: u64,
    /// Faults per thousand reply chunks, by kind.
    pub cut_reply_per_mille: u64,
    pub partial_reply_per_mille: u64,
    pub late_reply_per_mille: u64,
    pub short_reply_delay_per_mille: u64,
    /// Connections refused per thousand.
    pub refuse_per_mille: u64,
    /// Milliseconds of a short delay: `1..=short_max`.
    pub short_max_ms: u64,
    /// Milliseconds of a late delay.
    pub late_min_ms: u64,
    pub late_max_ms: u64,
}

impl ChaosConfig {
    /// Faults for a client whose I/O timeout is `io_timeout_ms`: late delays exceed it.
    pub fn new(seed: u64, io_timeout_ms: u64) -> ChaosConfig {
        ChaosConfig {
            seed,
            drop_per_mille: 20,
            cut_after_request_per_mille: 25,
            late_request_per_mille: 15,
            short_delay_per_mille: 60,
            split_per_mille: 30,
            cut_reply_per_mille: 20,
            partial_reply_per_mille: 10,
            late_reply_per_mille: 8,
            short_reply_delay_per_mille: 40,
            refuse_per_mille: 15,
            short_max_ms: (io_timeout_ms / 4).max(1),
            late_min_ms: io_timeout_ms + 50,
            late_max_ms: io_timeout_ms * 5,
        }
    }
}

/// A relay listening on a loopback port, forwarding to `127.0.0.1:<upstream>` (which may go
/// down and come back on the same port). Runs until the test process ends.
pub struct ChaosRelay {
    pub port: u16,
    pub faults: Arc<Faults>,
}

impl ChaosRelay {
    pub fn start(upstream: u16, config: ChaosConfig) -> ChaosRelay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        let port = listener.local_addr().expect("relay address").port();
        let faults = Arc::new(Faults::default());
        let f = faults.clone();
        std::thread::Builder::new()
            .name("chaos-accept".to_owned())
            .spawn(move || {
                for (index, client) in listener.incoming().enumerate() {
                    let Ok(client) = client else { continue };
                    let rng = Rng::new(config.seed ^ (index as u64).wrapping_mul(0x100_0000_01B3));
                    let f = f.clone();
                    let _ = std::thread::Builder::new()
                        .name("chaos-conn".to_owned())
                        .spawn(move || relay_connection(client, upstream, config, rng, f));
                }
            })
            .expect("start the relay");
        ChaosRelay { port, faults }
    }
}

/// Closes both sides of a relayed connection.
fn cut(client: &TcpStream, upstream: &TcpStream) {
    let _ = client.shutdown(Shutdown::Both);
    let _ = upstream.shutdown(Shutdown::Both);
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn relay_connection(
    client: TcpStream,
    upstream_port: u16,
    config: ChaosConfig,
    mut rng: Rng,
    faults: Arc<Faults>,
) {
    Faults::bump(&faults.connections);
    if rng.below(1000) < config.refuse_per_mille {
        Faults::bump(&faults.refused);
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let upstream = match TcpStream::connect_timeout(
        &([127, 0, 0, 1], upstream_port).into(),
        Duration::from_millis(500),
    ) {
        Ok(u) => u,
        Err(_) => {
            Faults::bump(&faults.upstream_down);
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (Ok(client_up), Ok(upstream_up), Ok(client_down), Ok(upstream_down)) = (
        client.try_clone(),
        upstream.try_clone(),
        client.try_clone(),
        upstream.try_clone(),
    ) else {
        cut(&client, &upstream);
        return;
    };
    // The reply pump has a stream of its own, so the two directions' faults do not depend on
    // each other's timing.
    let mut reply_rng = Rng::new(rng.next_u64());
    let f = faults.clone();
    let replies = std::thread::Builder::new()
        .name("chaos-down".to_owned())
        .spawn(move || pump_replies(upstream_down, client_down, config, &mut reply_rng, &f));
    pump_requests(client_up, upstream_up, config, &mut rng, &faults);
    if let Ok(handle) = replies {
        let _ = handle.join();
    }
}

/// Whether the client closed its side (a read would return end of file), without consuming
/// anything it sent.
fn client_closed(client: &TcpStream) -> bool {
    if client.set_nonblocking(true).is_err() {
        return false;
    }
    let mut probe = [0u8; 1];
    let closed = matches!(client.peek(&mut probe), Ok(0));
    let _ = client.set_nonblocking(false);
    closed
}

/// Client → Redis.
fn pump_requests(
    mut client: TcpStream,
    mut upstream: TcpStream,
    config: ChaosConfig,
    rng: &mut Rng,
    faults: &Faults,
) {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match client.read(&mut buf) {
            Ok(0) | Err(_) => {
                // The client is gone: let Redis finish what it was sent (and reply to no one),
                // then close.
                let _ = upstream.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        if chunk.windows(4).any(|w| w.eq_ignore_ascii_case(b"EVAL")) {
            Faults::bump(&faults.batches);
        }
        let roll = rng.below(1000);
        let mut at = 0;
        let mut next = |per_mille: u64| {
            at += per_mille;
            roll < at
        };
        if next(config.drop_per_mille) {
            Faults::bump(&faults.drops);
            cut(&client, &upstream);
            return;
        }
        if next(config.cut_after_request_per_mille) {
            Faults::bump(&faults.cuts_after_request);
            let _ = upstream.write_all(chunk);
            Faults::bump(&faults.request_chunks);
            // Sometimes at once (Redis may or may not run it), sometimes after Redis surely did.
            let _ = client.shutdown(Shutdown::Both);
            if rng.below(2) == 0 {
                sleep_ms(rng.between(1, 30));
            }
            let _ = upstream.shutdown(Shutdown::Both);
            return;
        }
        if next(config.late_request_per_mille) {
            Faults::bump(&faults.late_requests);
            // The client gives up meanwhile; the bytes still reach Redis afterwards.
            sleep_ms(rng.between(config.late_min_ms, config.late_max_ms));
            if client_closed(&client) {
                Faults::bump(&faults.stale_deliveries);
            }
        } else if next(config.short_delay_per_mille) {
            Faults::bump(&faults.short_delays);
            sleep_ms(rng.between(1, config.short_max_ms));
        } else if n > 1 && next(config.split_per_mille) {
            Faults::bump(&faults.splits);
            let half = rng.between(1, n as u64 - 1) as usize;
            if upstream.write_all(&chunk[..half]).is_err() {
                cut(&client, &upstream);
                return;
            }
            sleep_ms(rng.between(1, config.short_max_ms));
            if upstream.write_all(&chunk[half..]).is_err() {
                cut(&client, &upstream);
                return;
            }
            Faults::bump(&faults.request_chunks);
            continue;
        }
        if upstream.write_all(chunk).is_err() {
            cut(&client, &upstream);
            return;
        }
        Faults::bump(&faults.request_chunks);
    }
}

/// Redis → client.
fn pump_replies(
    mut upstream: TcpStream,
    mut client: TcpStream,
    config: ChaosConfig,
    rng: &mut Rng,
    faults: &Faults,
) {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match upstream.read(&mut buf) {
            Ok(0) | Err(_) => {
                cut(&client, &upstream);
                return;
            }
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        if chunk.starts_with(b"*2\r\n:0\r\n:0\r\n") {
            Faults::bump(&faults.skipped_batches);
        }
        let roll = rng.below(1000);
        let mut at = 0;
        let mut next = |per_mille: u64| {
            at += per_mille;
            roll < at
        };
        if next(config.cut_reply_per_mille) {
            Faults::bump(&faults.cut_replies);
            cut(&client, &upstream);
            return;
        }
        if next(config.partial_reply_per_mille) {
            Faults::bump(&faults.partial_replies);
            if n > 1 {
                let part = rng.between(1, n as u64 - 1) as usize;
                let _ = client.write_all(&chunk[..part]);
            }
            cut(&client, &upstream);
            return;
        }
        if next(config.late_reply_per_mille) {
            Faults::bump(&faults.late_replies);
            sleep_ms(rng.between(config.late_min_ms, config.late_max_ms));
        } else if next(config.short_reply_delay_per_mille) {
            Faults::bump(&faults.short_reply_delays);
            sleep_ms(rng.between(1, config.short_max_ms));
        }
        if client.write_all(chunk).is_err() {
            // The client gave up (a late reply): Redis has run the request; close.
            cut(&client, &upstream);
            return;
        }
    }
}
