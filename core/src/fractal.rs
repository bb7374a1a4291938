//! Fractal dimensions of sets, point clouds and surfaces.
