//! `#[gauge]` on associated functions (issue 12, item 6): the gauge reads the function it is
//! written on, whether that is a free function, an associated function of an inherent impl (with
//! or without a free function of the same name in scope), of a generic impl, or of a trait impl.

// A dead `#[gauge]` function is not dead: the registry reads it. Uncalled gauges must not warn.
#![deny(dead_code)]

use microprofile::{gauge, global, Scope, Selection, Value};

fn gauge_value(name: &str) -> f64 {
    let families = global().snapshot(Selection::Metric(&Scope::Application, name));
    let mut values = families
        .into_iter()
        .flat_map(|f| f.series)
        .map(|s| match s.value {
            Value::Gauge(v) => v,
            other => panic!("{name} is not a gauge: {other:?}"),
        });
    let value = values
        .next()
        .unwrap_or_else(|| panic!("no series {name} in the registry"));
    assert!(values.next().is_none(), "{name} has more than one series");
    value
}

mod shadowed {
    /// A free function with the name of the associated gauge below: the gauge must not read it.
    pub fn depth() -> u64 {
        1
    }

    pub struct Queue;

    impl Queue {
        #[microprofile::gauge(name = "assoc_queue_depth", unit = "none")]
        pub fn depth() -> u64 {
            7
        }
    }
}

#[test]
fn associated_gauge_reads_the_associated_function_not_a_free_one_of_the_same_name() {
    assert_eq!(gauge_value("assoc_queue_depth"), 7.0);
    // Calling either function still calls that function.
    assert_eq!(shadowed::Queue::depth(), 7);
    assert_eq!(shadowed::depth(), 1);
}

struct Pool;

impl Pool {
    const IDLE: u32 = 4;

    /// Idle connections.
    #[gauge(name = "assoc_pool_idle", unit = "none")]
    fn idle() -> u32 {
        // The type's name works in the body (`Self` does not: the gauge reads the body outside the
        // impl, see tests/ui/gauge_self_in_body.rs).
        Pool::IDLE
    }

    // Never called: read only by the registry, so no dead-code warning (see `deny` above).
    #[gauge(name = "assoc_pool_uncalled", unit = "none")]
    fn uncalled() -> i64 {
        -2
    }
}

#[test]
fn associated_gauge_without_a_free_function_of_that_name() {
    assert_eq!(gauge_value("assoc_pool_idle"), 4.0);
    assert_eq!(gauge_value("assoc_pool_uncalled"), -2.0);
    let info = global().families(Selection::Metric(&Scope::Application, "assoc_pool_idle"));
    assert_eq!(info[0].description, "Idle connections.");
}

struct Stack<T>(Vec<T>);

impl<T> Stack<T> {
    #[gauge(name = "assoc_stack_limit", unit = "none")]
    fn limit() -> usize {
        16
    }

    fn len(&self) -> usize {
        self.0.len().min(Self::limit())
    }
}

#[test]
fn associated_gauge_in_a_generic_impl() {
    assert_eq!(gauge_value("assoc_stack_limit"), 16.0);
    assert_eq!(Stack(vec![1, 2]).len(), 2);
}

trait Capacity {
    fn capacity() -> f64;
}

struct Buffer;

impl Capacity for Buffer {
    #[gauge(name = "assoc_buffer_capacity", unit = "bytes")]
    fn capacity() -> f64 {
        2.5
    }
}

#[test]
fn gauge_on_a_trait_impl_method() {
    assert_eq!(gauge_value("assoc_buffer_capacity_bytes"), 2.5);
    assert_eq!(<Buffer as Capacity>::capacity(), 2.5);
}

// A free gauge that nothing calls.
#[gauge(name = "free_uncalled", unit = "none")]
fn free_uncalled() -> u8 {
    9
}

#[test]
fn free_gauge_never_called() {
    assert_eq!(gauge_value("free_uncalled"), 9.0);
}
