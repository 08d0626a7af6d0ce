//! `feeds` turns venue bytes into fixed-size market-data events and keeps L2 books.
//! It runs on the feed core, inside the hot loop. It never panics on input, never
//! allocates per message and never touches engine state. (Filled in by issue 3.)
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
