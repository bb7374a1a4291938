//! Fitting alpha-stable laws (and the alternatives compared with them) to data.

pub mod alternatives;
