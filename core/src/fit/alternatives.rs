//! Maximum-likelihood fits of the models compared with a stable law (normal, Student-t, Laplace).
