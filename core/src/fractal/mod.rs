//! Fractal dimensions of sets, point clouds and surfaces.
//!
//! # Which object is measured
//!
//! A "fractal dimension" is only meaningful once the object is named, because the same landscape
//! gives numbers in different ranges depending on what is measured:
//!
//! | object | function | range | for an fBm surface with Hurst index H |
//! |---|---|---|---|
//! | a 2-D set (binary image) or its boundary | [`box_count_image`] | [0, 2] | — |
//! | a point cloud in n dimensions | [`box_count_points`] | [0, n] | — |
//! | the graph of a surface z = f(x, y) | [`surface_dimension`] | [2, 3] | 3 - H |
//! | a level set (contour) {f = c} | [`level_set_dimension`] | [1, 2] | 2 - H |
//!
//! ## What a "1.8" for a 2-D projected loss landscape can mean
//!
//! A loss surface L(x, y) over a 2-D slice of parameter space is the graph of a function, whose
//! dimension lies between 2 (smooth) and 3 (space-filling roughness). A value of 1.8 therefore
//! cannot be the dimension of the surface itself. It can be the dimension of a **level set**
//! (the contour lines of the landscape at some loss value): for an isotropic fractal surface the
//! contours have dimension D_surface - 1 = 2 - H, so 1.8 means H ≈ 0.2 — a very rough landscape
//! whose graph would have dimension ≈ 2.8. It can also be the box-counting dimension of a
//! thresholded image (the region below a loss level, or its boundary), which mixes the
//! dimension 2 of the filled region at small scales with the contour's at larger ones and
//! depends on the threshold and the fit range; always report which object and which scales
//! were used. [`level_set_dimension`] makes the contour interpretation explicit.
//!
//! # Methods
//!
//! - [`box_count_image`], [`box_count_points`]: box counting over a geometric ladder of box
//!   sizes, each counted on several shifted grids (minimum over the shifts by default), with a
//!   least-squares fit of log N(s) against log(1/s) over a scaling range that is chosen
//!   automatically (the widest range with flat local slopes, see [`FitRange`]) or given.
//! - [`surface_dimension`] with [`SurfaceMethod::Variogram`] or [`SurfaceMethod::Madogram`]
//!   (Gneiting, Ševčíková & Percival 2012, the recommended default) or
//!   [`SurfaceMethod::Dbc`] (differential box counting, Sarkar & Chaudhuri 1994, biased low).
//!
//! # Examples
//!
//! ```
//! use anodiff_core::fractal::{box_count_image, Bitmap, BoxCountConfig};
//! // Pascal's triangle mod 2 is an exact raster of the Sierpinski triangle.
//! let n = 256;
//! let img = Bitmap::from_fn(n, n, |x, y| x & y == 0).unwrap();
//! let bc = box_count_image(&img, &BoxCountConfig::default()).unwrap();
//! assert!((bc.dimension - 3f64.ln() / 2f64.ln()).abs() < 1e-9);
//! ```
//!
//! # References
//! - N. Sarkar, B. B. Chaudhuri (1994), An efficient differential box-counting approach to
//!   compute fractal dimension of image, IEEE Trans. Syst. Man Cybern. 24(1):115–120.
//! - T. Gneiting, H. Ševčíková, D. B. Percival (2012), Estimators of fractal dimension: assessing
//!   the roughness of time series and spatial data, Statistical Science 27(2):247–277.
//! - K. Falconer (2003), Fractal Geometry, 2nd ed., ch. 3 (box-counting dimension).

mod bitmap;
mod boxcount;
mod input;
mod range;
mod surface;

pub use bitmap::Bitmap;
pub use boxcount::{
    box_count_image, box_count_points, BoxCount, BoxCountConfig, FitRange, OffsetAggregate,
};
pub use input::{read_array2_f64, read_bitmap_npy};
pub use range::select_flat_range;
pub use surface::{
    level_set_dimension, surface_dimension, LevelSet, SurfaceDim, SurfaceDimConfig, SurfaceMethod,
};
