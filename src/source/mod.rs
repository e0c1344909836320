//! Where events come from: recorded files (replay), the in-process simulator (demo).

pub mod file;
