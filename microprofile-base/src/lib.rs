//! Host metrics (scope `base`) and process metrics (scope `vendor`) for `microprofile`.
