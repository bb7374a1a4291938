//! Vuong likelihood-ratio tests between two fitted models.
