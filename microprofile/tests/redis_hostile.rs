//! A hostile or broken server on the Redis port cannot make the store allocate what it announces:
//! a bulk reply of 500 MB announced and never sent costs the I/O timeout, not the memory. Memory
//! is measured by a global allocator that tracks the bytes live and their peak (this test binary
//! only).
#![cfg(feature = "redis")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use microprofile::redis::{SharedStore, StoreConfig};

struct Tracking;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

#[test]
fn an_announced_huge_bulk_reply_is_not_allocated_up_front() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Answers whatever comes first with the head of a 500 MB bulk string and 3 bytes of it, then
    // sends nothing more for longer than the store's I/O timeout.
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = stream.read(&mut buf);
        stream.write_all(b"$500000000\r\nabc").unwrap();
        std::thread::sleep(Duration::from_secs(2));
    });
    let config = StoreConfig::new(format!("redis://{addr}"), "hostile")
        .connect_timeout(Duration::from_millis(500))
        .io_timeout(Duration::from_millis(500));
    let store = SharedStore::new(config).unwrap();
    store.counter("hits", &[]).unwrap().inc();
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let started = Instant::now();
    let outcome = store.transfer();
    let elapsed = started.elapsed();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    assert!(outcome.is_err(), "{outcome:?}");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert!(
        peak < 8 << 20,
        "{peak} bytes allocated for a reply that announced 500 MB"
    );
    // Nothing was lost: the delta is still pending for the next transfer.
    assert_eq!(store.pending_fields(), 1);
    server.join().unwrap();
}
