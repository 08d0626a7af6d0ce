//! `ring-bench`: our rings against the raw cache-line ping-pong and their peers, in one
//! run, producer and consumer pinned to different CPUs.

pub mod ends;
pub mod measure;
pub mod msg;
pub mod pingpong;
pub mod report;
pub mod run;
pub mod shm;
pub mod stamped;
