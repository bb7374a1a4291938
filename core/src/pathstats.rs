//! Other trajectory statistics of the paper: MSL, contour length, loss fluctuations, gradient samples.
