//! Presentation of results: figures (PNG and SVG, embedded font) and the HTML report.
//! Nothing here computes statistics; it draws and lays out numbers computed elsewhere.

// The builders for the network figures (Figs. 2-4, 5b-c, 6, 7) wait for the network stages;
// their unit tests draw them on synthetic data meanwhile.
#[allow(dead_code)]
pub mod figures;
pub mod html;
pub mod paper;
#[allow(dead_code)]
pub mod plot;
