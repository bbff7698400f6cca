//! Workloads: arrival processes and the applications requests are for.
