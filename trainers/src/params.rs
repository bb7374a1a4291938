//! The flat parameter vector of a [`Network`]: weights and gradients as one `f32` (or `f64`)
//! vector in the documented flat order ([`Network::trainable`]: sorted by name, each tensor
//! row-major).

use crate::error::{Error, Result};
use crate::model::Network;
use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};

/// Appends `t` (any float dtype, any device) flattened to `out`.
fn extend_from<T: candle_core::WithDType>(out: &mut Vec<T>, t: &Tensor) -> Result<()> {
    let t = t.flatten_all()?.to_dtype(T::DTYPE)?;
    out.extend(t.to_vec1::<T>()?);
    Ok(())
}

/// Concatenates `tensors` flattened, as one vector of `T`. On a GPU the pieces are joined on
/// the device first, so that the copy to the host is one transfer rather than one per tensor.
fn concat<T: candle_core::WithDType>(tensors: &[&Tensor], n: usize) -> Result<Vec<T>> {
    if tensors.is_empty() {
        return Ok(Vec::new());
    }
    if !tensors[0].device().is_cpu() {
        let flat: Vec<Tensor> = tensors
            .iter()
            .map(|t| t.flatten_all())
            .collect::<candle_core::Result<_>>()?;
        let all = Tensor::cat(&flat, 0)?.to_dtype(T::DTYPE)?;
        return Ok(all.to_vec1::<T>()?);
    }
    let mut out = Vec::with_capacity(n);
    for t in tensors {
        extend_from(&mut out, t)?;
    }
    Ok(out)
}

fn flat<T: candle_core::WithDType>(vars: &[(String, Var)], n: usize) -> Result<Vec<T>> {
    let tensors: Vec<&Tensor> = vars.iter().map(|(_, v)| v.as_tensor()).collect();
    concat(&tensors, n)
}

fn set_flat<T: candle_core::WithDType>(net: &Network, w: &[T]) -> Result<()> {
    if w.len() != net.num_params() {
        return Err(Error::param(
            "weights",
            format!(
                "flat vector has {} values, the network has {} trainable parameters",
                w.len(),
                net.num_params()
            ),
        ));
    }
    let mut off = 0;
    for (_, v) in net.trainable() {
        let n = v.elem_count();
        let t =
            Tensor::from_slice(&w[off..off + n], v.shape(), net.device())?.to_dtype(net.dtype())?;
        v.set(&t)?;
        off += n;
    }
    Ok(())
}

impl Network {
    /// All trainable weights as one `f32` vector in the flat order (rounded for `F64`
    /// networks).
    ///
    /// # Examples
    /// ```
    /// use anodiff_trainers::{init::InitOptions, model::Network};
    /// use candle_core::{DType, Device};
    /// let net = Network::new(&"mlp:4".parse().unwrap(), [1, 2, 2], 3, DType::F32, &Device::Cpu, 7,
    ///                        &InitOptions::default()).unwrap();
    /// let mut w = net.flat_weights().unwrap();
    /// assert_eq!(w.len(), 4 * 4 + 4 + 4 * 3 + 3);
    /// w[0] = 0.5;
    /// net.set_flat_weights(&w).unwrap();
    /// assert_eq!(net.flat_weights().unwrap()[0], 0.5);
    /// ```
    ///
    /// # Errors
    /// Device errors (from candle).
    pub fn flat_weights(&self) -> Result<Vec<f32>> {
        flat(self.trainable(), self.num_params())
    }

    /// [`Network::flat_weights`] in `f64` (exact for `F64` networks).
    ///
    /// # Errors
    /// Device errors (from candle).
    pub fn flat_weights_f64(&self) -> Result<Vec<f64>> {
        flat(self.trainable(), self.num_params())
    }

    /// Sets every trainable weight from a flat `f32` vector in the flat order. Running
    /// statistics are left as they are.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `w.len() != num_params()`.
    pub fn set_flat_weights(&self, w: &[f32]) -> Result<()> {
        set_flat(self, w)
    }

    /// [`Network::set_flat_weights`] from `f64` values (exact for `F64` networks).
    ///
    /// # Errors
    /// As [`Network::set_flat_weights`].
    pub fn set_flat_weights_f64(&self, w: &[f64]) -> Result<()> {
        set_flat(self, w)
    }

    /// The gradient in `grads` of every trainable parameter, as one vector in the flat order;
    /// parameters the loss does not depend on get zeros.
    ///
    /// # Errors
    /// Device errors (from candle).
    pub fn flat_gradient<T: candle_core::WithDType>(&self, grads: &GradStore) -> Result<Vec<T>> {
        let zeros: Vec<Tensor> = self
            .trainable()
            .iter()
            .filter(|(_, v)| grads.get(v.as_tensor()).is_none())
            .map(|(_, v)| v.as_tensor().zeros_like())
            .collect::<candle_core::Result<_>>()?;
        let mut z = zeros.iter();
        let mut parts = Vec::with_capacity(self.trainable().len());
        for (_, v) in self.trainable() {
            match grads.get(v.as_tensor()) {
                Some(g) => parts.push(g),
                None => match z.next() {
                    Some(t) => parts.push(t),
                    None => return Err(Error::param("gradient", "internal: zero fill")),
                },
            }
        }
        concat(&parts, self.num_params())
    }
}

#[cfg(test)]
mod tests {
    use crate::init::InitOptions;
    use crate::model::Network;
    use candle_core::{DType, Device, Tensor};

    #[test]
    fn flat_round_trip_and_gradient_order() {
        let net = Network::new(
            &"cnn".parse().unwrap(),
            [1, 6, 6],
            4,
            DType::F64,
            &Device::Cpu,
            5,
            &InitOptions::default(),
        )
        .unwrap();
        let w = net.flat_weights_f64().unwrap();
        assert_eq!(w.len(), net.num_params());
        // Offsets follow the sorted names: "bn1.bias" first (16 zeros), then "bn1.weight" (ones).
        assert!(w[..16].iter().all(|&v| v == 0.0));
        assert!(w[16..32].iter().all(|&v| v == 1.0));
        let w2: Vec<f64> = w.iter().map(|v| v * 2.0 + 1.0).collect();
        net.set_flat_weights_f64(&w2).unwrap();
        assert_eq!(net.flat_weights_f64().unwrap(), w2);
        assert!(net.set_flat_weights(&[0.0; 3]).is_err());
        // Gradient of sum(all params) is all ones, in the same order and length.
        let mut s = Tensor::new(0f64, &Device::Cpu).unwrap();
        for (_, v) in net.trainable() {
            s = (s + v.as_tensor().sum_all().unwrap()).unwrap();
        }
        let g: Vec<f64> = net.flat_gradient(&s.backward().unwrap()).unwrap();
        assert_eq!(g, vec![1.0; net.num_params()]);
    }
}
