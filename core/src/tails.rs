//! Heavy-tail diagnostics next to a stable fit: the Hill estimator and friends.
