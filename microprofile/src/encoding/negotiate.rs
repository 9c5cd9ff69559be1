//! Content negotiation: which [`Format`](super::Format) an `Accept` header asks for.
