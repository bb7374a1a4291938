//! Reading numeric data from text, `.npy` files and standard input.
