//! `rings`: bounded lock-free queues linking pinned cores (issue 2 fills this in).
#![deny(missing_docs)]
