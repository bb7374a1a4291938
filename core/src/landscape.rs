//! Landscape generators: diamond-square, fractional Brownian surfaces, convex and shuffled baselines.
