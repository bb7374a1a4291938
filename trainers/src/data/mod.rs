//! Datasets read from the standard files a user gives: MNIST IDX, CIFAR-10 binary batches and
//! the UCI digits CSV. Nothing is ever downloaded.

/// An in-memory labelled image set, `f32` pixels in NCHW order.
///
/// Pixels are raw-scaled to [0, 1] by the readers; [`Dataset::normalize`] applies per-channel
/// standardisation with statistics the caller chooses (usually the training set's).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `len * channels * height * width` pixel values, image-major, NCHW.
    pub images: Vec<f32>,
    /// One label per image, each `< num_classes`.
    pub labels: Vec<u8>,
    /// Channels per image (1 for MNIST and digits, 3 for CIFAR-10).
    pub channels: usize,
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
    /// Number of classes (10 for all three built-in sets).
    pub num_classes: usize,
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set holds no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}
