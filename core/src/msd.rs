//! Mean squared displacement of trajectories (time-averaged, ensemble and two-time).
