#![allow(dead_code)]
pub mod duplex;
pub mod server;
