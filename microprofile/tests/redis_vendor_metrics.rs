//! The shared store's vendor metrics (`microprofile_redis_*`) appear in the global registry only
//! once the program uses the store or the exposition: a program without Redis does not expose
//! counters of a subsystem it never started. Its own process, so no other test has used Redis.
#![cfg(feature = "redis")]

use microprofile::redis::{RedisExposition, SharedStore, StoreConfig};
use microprofile::{global, Format, Selection};

fn redis_families() -> Vec<String> {
    let text = global().encode_to_string(Format::Prometheus, Selection::All);
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter(|l| l.starts_with("microprofile_redis_"))
        .map(|l| l.split(' ').next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn redis_vendor_metrics_appear_once_the_store_is_used() {
    assert_eq!(redis_families(), Vec::<String>::new());
    // Neither connects: no Redis server is needed.
    let _exposition = RedisExposition::new("redis://127.0.0.1:1", &["shop"]).unwrap();
    let _store = SharedStore::new(StoreConfig::new("redis://127.0.0.1:1", "shop")).unwrap();
    let families = redis_families();
    for name in [
        "microprofile_redis_decode_errors_total",
        "microprofile_redis_dropped_updates_total",
        "microprofile_redis_read_errors_total",
        "microprofile_redis_transfer_errors_total",
        "microprofile_redis_transfers_total",
    ] {
        assert!(families.iter().any(|f| f == name), "{name} in {families:?}");
    }
    assert!(global().registration_errors().is_empty());
}
