//! Trainers that produce SGD trajectories for `anodiff-core`'s analyses.
//!
//! This crate will hold the paper's CIFAR-style ResNets (and their `-noshort` twins), a small
//! MLP and CNN, the dataset readers and vanilla-SGD loops, all written against candle and
//! recording every step through [`anodiff_core::trajectory::TrajectorySource`]'s store. It is an
//! empty shell until that work lands, so that the statistics crate builds and tests without candle.
