//! Extreme eigenvalues of symmetric operators by Lanczos, with spectral density and trace estimators.
