//! Lévy alpha-stable distributions (Nolan's S0 and S1 parameterizations).
