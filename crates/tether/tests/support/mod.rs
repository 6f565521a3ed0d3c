#![allow(dead_code)]
pub mod duplex;
