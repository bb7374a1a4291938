//! Checkpoints of a [`Network`]: every variable (trainable weights and batch-norm running
//! statistics) in one safetensors file, in the network's dtype, under its parameter name, with
//! string metadata (`anodiff.arch`, `anodiff.num_params` and whatever the caller adds, e.g. the
//! training step). Python reads them with `safetensors.numpy.load_file`.
//!
//! Files are written atomically (temporary file, `fsync`, rename, directory `fsync`), so a
//! checkpoint on disk is always complete.

use crate::error::{Error, Result};
use crate::model::Network;
use candle_core::Tensor;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// Metadata key holding the architecture name.
pub const META_ARCH: &str = "anodiff.arch";
/// Metadata key holding the number of trainable parameters.
pub const META_NUM_PARAMS: &str = "anodiff.num_params";

/// Writes `bytes` to `path` atomically.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| Error::format(path, "not a file path"))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))?;
    Ok(())
}

/// The string metadata of a checkpoint file.
///
/// # Errors
/// [`Error::Io`] if it cannot be read, [`Error::Format`] if it is not a safetensors file.
pub fn read_metadata(path: &Path) -> Result<HashMap<String, String>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| Error::format(path, format!("not a safetensors checkpoint: {e}")))?;
    Ok(meta.metadata().clone().unwrap_or_default())
}

impl Network {
    /// Saves every variable (weights and batch-norm running statistics) to `path`.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file.
    pub fn save_checkpoint(&self, path: &Path) -> Result<()> {
        self.save_checkpoint_with(path, &HashMap::new())
    }

    /// [`Network::save_checkpoint`] with extra string metadata (keys should not start with
    /// `anodiff.`, which this crate uses).
    ///
    /// # Errors
    /// [`Error::Io`] naming the file.
    pub fn save_checkpoint_with(&self, path: &Path, extra: &HashMap<String, String>) -> Result<()> {
        let mut meta = extra.clone();
        meta.insert(META_ARCH.into(), self.arch().to_string());
        meta.insert(META_NUM_PARAMS.into(), self.num_params().to_string());
        let tensors: Vec<(String, Tensor)> = self
            .trainable()
            .iter()
            .chain(self.buffers())
            .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
            .collect();
        let bytes =
            safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(meta))
                .map_err(|e| Error::format(path, format!("cannot serialise checkpoint: {e}")))?;
        write_atomic(path, &bytes)
    }

    /// Loads every variable from a checkpoint written by [`Network::save_checkpoint`] for the
    /// same architecture and input shape; returns the checkpoint's metadata.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read; [`Error::Format`] naming the file for a
    /// missing variable, a variable of the wrong shape, an unknown extra variable or a file that
    /// is not safetensors. Nothing is changed on error.
    pub fn load_checkpoint(&self, path: &Path) -> Result<HashMap<String, String>> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let meta = {
            let (_, m) = safetensors::SafeTensors::read_metadata(&bytes)
                .map_err(|e| Error::format(path, format!("not a safetensors checkpoint: {e}")))?;
            m.metadata().clone().unwrap_or_default()
        };
        let tensors = candle_core::safetensors::load_buffer(&bytes, self.device())
            .map_err(|e| Error::format(path, format!("not a valid checkpoint: {e}")))?;
        let vars: Vec<_> = self.trainable().iter().chain(self.buffers()).collect();
        let mut new = Vec::with_capacity(vars.len());
        for (name, var) in &vars {
            let t = tensors.get(name).ok_or_else(|| {
                Error::format(
                    path,
                    format!(
                        "has no variable '{name}' (written for a different model? it says {})",
                        meta.get(META_ARCH).map_or("nothing", String::as_str)
                    ),
                )
            })?;
            if t.shape() != var.shape() {
                return Err(Error::format(
                    path,
                    format!(
                        "variable '{name}' has shape {:?}, the network expects {:?}",
                        t.dims(),
                        var.dims()
                    ),
                ));
            }
            new.push(t.to_dtype(self.dtype())?);
        }
        if tensors.len() != vars.len() {
            let extra = tensors
                .keys()
                .find(|k| !vars.iter().any(|(n, _)| n == *k))
                .cloned()
                .unwrap_or_default();
            return Err(Error::format(
                path,
                format!("holds variable '{extra}', which the network does not have"),
            ));
        }
        for ((_, var), t) in vars.iter().zip(&new) {
            var.set(t)?;
        }
        Ok(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::InitOptions;
    use candle_core::{DType, Device};

    fn net(arch: &str, seed: u64) -> Network {
        Network::new(
            &arch.parse().unwrap(),
            [1, 8, 8],
            10,
            DType::F32,
            &Device::Cpu,
            seed,
            &InitOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn round_trip_includes_running_stats() {
        let dir = tempfile::tempdir().unwrap();
        let a = net("resnet8", 1);
        // Move the running statistics away from their initial 0 / 1.
        let x = Tensor::rand(0f32, 1.0, (4, 1, 8, 8), &Device::Cpu).unwrap();
        a.forward(&x, true).unwrap();
        let p = dir.path().join("c.safetensors");
        let mut extra = HashMap::new();
        extra.insert("step".to_string(), "12".to_string());
        a.save_checkpoint_with(&p, &extra).unwrap();
        let b = net("resnet8", 2);
        assert_ne!(a.flat_weights().unwrap(), b.flat_weights().unwrap());
        let meta = b.load_checkpoint(&p).unwrap();
        assert_eq!(meta["step"], "12");
        assert_eq!(meta[META_ARCH], "resnet8");
        assert_eq!(read_metadata(&p).unwrap()["step"], "12");
        assert_eq!(a.flat_weights().unwrap(), b.flat_weights().unwrap());
        for ((na, va), (nb, vb)) in a.buffers().iter().zip(b.buffers()) {
            assert_eq!(na, nb);
            let (va, vb) = (
                va.as_tensor().to_vec1::<f32>().unwrap(),
                vb.as_tensor().to_vec1::<f32>().unwrap(),
            );
            assert_eq!(va, vb);
        }
        // Eval-mode outputs agree, so the running statistics came along.
        let ya = a
            .forward(&x, false)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let yb = b
            .forward(&x, false)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(ya, yb);
    }

    #[test]
    fn wrong_model_or_garbage_is_a_format_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.safetensors");
        net("resnet8", 1).save_checkpoint(&p).unwrap();
        let e = net("cnn", 1).load_checkpoint(&p).unwrap_err().to_string();
        assert!(e.contains("c.safetensors") && e.contains("resnet8"), "{e}");
        let e = net("resnet8-a", 1)
            .load_checkpoint(&p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("shortcut"), "{e}");
        std::fs::write(&p, b"garbage").unwrap();
        assert!(net("resnet8", 1).load_checkpoint(&p).is_err());
        assert!(read_metadata(&p).is_err());
        assert!(net("resnet8", 1)
            .load_checkpoint(&dir.path().join("none"))
            .is_err());
    }
}
