//! Diffusion exponents: power-law fits, crossovers and segmented regression.
