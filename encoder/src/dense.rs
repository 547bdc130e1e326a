//! The dense layers' arithmetic for the few rows of one sentence: the product without the general matrix
//! product's repacking, and the GELU activation without a scalar `erf` per value.

use half::f16;
use half::slice::HalfFloatSliceExt;
use pulp::{Simd, WithSimd};

/// `out[i][j] = x[i] · w[j] + bias[j]` for `x` of rows of `input` values and `w` of `bias.len()` rows of `input`
/// values (the layer's weight, `[output, input]`), compiled for the best instruction set the CPU has.
///
/// Four weight rows at a time are widened to `f32` and multiplied with two rows of `x` at a time: eight
/// independent sums keep the multiply-add units busy, and the four widened rows stay in the first-level cache
/// while the sentence's rows pass them. A question's dozen rows make this bound by reading the weight from
/// memory: half-precision weights halve that. (The general matrix product repacked the whole weight on every
/// call, which cost more than the arithmetic.)
pub fn dense(x: &[f32], w: &[f16], bias: &[f32], input: usize, out: &mut [f32]) {
    pulp::Arch::new().dispatch(Dense {
        x,
        w,
        bias,
        input,
        out,
    });
}

struct Dense<'a> {
    x: &'a [f32],
    w: &'a [f16],
    bias: &'a [f32],
    input: usize,
    out: &'a mut [f32],
}

impl WithSimd for Dense<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Dense {
            x,
            w,
            bias,
            input,
            out,
        } = self;
        let output = bias.len();
        if input == 0 {
            for (o, b) in out.iter_mut().zip(bias.iter().cycle()) {
                *o = *b;
            }
            return;
        }
        let rows = x.len() / input;
        let blocked = output / 4 * 4;
        let mut wide = vec![0f32; 4 * input];
        for j in (0..blocked).step_by(4) {
            w[j * input..(j + 4) * input].convert_to_f32_slice(&mut wide);
            let ws = [
                row(&wide, input, 0),
                row(&wide, input, 1),
                row(&wide, input, 2),
                row(&wide, input, 3),
            ];
            let mut i = 0;
            while i + 2 <= rows {
                let sums = block(simd, [row(x, input, i), row(x, input, i + 1)], ws);
                for (s, sums) in sums.iter().enumerate() {
                    for (r, sum) in sums.iter().enumerate() {
                        out[(i + s) * output + j + r] = sum + bias[j + r];
                    }
                }
                i += 2;
            }
            if i < rows {
                for (r, wr) in ws.iter().enumerate() {
                    out[i * output + j + r] = dot(simd, row(x, input, i), wr) + bias[j + r];
                }
            }
        }
        let single = &mut wide[..input];
        for j in blocked..output {
            row(w, input, j).convert_to_f32_slice(single);
            for i in 0..rows {
                out[i * output + j] = dot(simd, row(x, input, i), single) + bias[j];
            }
        }
    }
}

/// Row `i` of a matrix of rows of `input` values.
#[inline(always)]
fn row<T>(m: &[T], input: usize, i: usize) -> &[T] {
    &m[i * input..(i + 1) * input]
}

/// The eight sums of two rows against four weight rows.
#[inline(always)]
fn block<S: Simd>(simd: S, xs: [&[f32]; 2], ws: [&[f32]; 4]) -> [[f32; 4]; 2] {
    let (x0, x0_tail) = S::as_simd_f32s(xs[0]);
    let (x1, x1_tail) = S::as_simd_f32s(xs[1]);
    let split = ws.map(S::as_simd_f32s);
    let [(w0, _), (w1, _), (w2, _), (w3, _)] = split;
    // Named sums rather than an array: an array of them was kept in memory, a load and a store per product.
    let zero = simd.splat_f32s(0.0);
    let (mut a0, mut a1, mut a2, mut a3) = (zero, zero, zero, zero);
    let (mut b0, mut b1, mut b2, mut b3) = (zero, zero, zero, zero);
    for (((((a, b), c0), c1), c2), c3) in x0.iter().zip(x1).zip(w0).zip(w1).zip(w2).zip(w3) {
        a0 = simd.mul_add_e_f32s(*a, *c0, a0);
        a1 = simd.mul_add_e_f32s(*a, *c1, a1);
        a2 = simd.mul_add_e_f32s(*a, *c2, a2);
        a3 = simd.mul_add_e_f32s(*a, *c3, a3);
        b0 = simd.mul_add_e_f32s(*b, *c0, b0);
        b1 = simd.mul_add_e_f32s(*b, *c1, b1);
        b2 = simd.mul_add_e_f32s(*b, *c2, b2);
        b3 = simd.mul_add_e_f32s(*b, *c3, b3);
    }
    let acc = [[a0, a1, a2, a3], [b0, b1, b2, b3]];
    let mut sums = [[0f32; 4]; 2];
    for (s, tail) in [x0_tail, x1_tail].into_iter().enumerate() {
        for r in 0..4 {
            let scalar: f32 = tail.iter().zip(split[r].1).map(|(p, q)| p * q).sum();
            sums[s][r] = simd.reduce_sum_f32s(acc[s][r]) + scalar;
        }
    }
    sums
}

/// One row against one weight row.
#[inline(always)]
fn dot<S: Simd>(simd: S, a: &[f32], b: &[f32]) -> f32 {
    let (a, a_tail) = S::as_simd_f32s(a);
    let (b, b_tail) = S::as_simd_f32s(b);
    let mut acc = simd.splat_f32s(0.0);
    for (p, q) in a.iter().zip(b) {
        acc = simd.mul_add_e_f32s(*p, *q, acc);
    }
    simd.reduce_sum_f32s(acc) + a_tail.iter().zip(b_tail).map(|(p, q)| p * q).sum::<f32>()
}

/// GELU, `x · (1 + erf(x / √2)) / 2`, in place, compiled for the best instruction set the CPU has. The scalar
/// `erf` of the maths library took a fifth of a sentence's embedding.
pub fn gelu(values: &mut [f32]) {
    pulp::Arch::new().dispatch(Gelu(values));
}

struct Gelu<'a>(&'a mut [f32]);

impl WithSimd for Gelu<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let (head, tail) = S::as_mut_simd_f32s(self.0);
        let (half, scale) = (
            simd.splat_f32s(0.5),
            simd.splat_f32s(std::f32::consts::FRAC_1_SQRT_2),
        );
        let one = simd.splat_f32s(1.0);
        for x in head {
            let e = erf(simd, simd.mul_f32s(*x, scale));
            *x = simd.mul_f32s(simd.mul_f32s(half, *x), simd.add_f32s(one, e));
        }
        for x in tail {
            *x = 0.5 * *x * (1.0 + erf_scalar(*x * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

/// The rational approximation of `erf` that Eigen and XLA use for `f32` (odd numerator of degree 13, even
/// denominator of degree 8, inputs clamped to [-4, 4] where `erf` is ±1 in single precision): within a few units
/// in the last place, checked against the maths library's `erf` in the tests.
const ERF_NUMERATOR: [f32; 7] = [
    -2.726_142_3e-10,
    2.770_681_4e-8,
    -2.101_024e-6,
    -5.692_506_4e-5,
    -7.349_906_3e-4,
    -2.954_6e-3,
    -1.609_603_3e-2,
];
const ERF_DENOMINATOR: [f32; 5] = [
    -1.456_607_2e-5,
    -2.133_740_6e-4,
    -1.682_827e-3,
    -7.373_329e-3,
    -1.426_474e-2,
];

#[inline(always)]
fn erf<S: Simd>(simd: S, x: S::f32s) -> S::f32s {
    let x = simd.min_f32s(
        simd.max_f32s(x, simd.splat_f32s(-4.0)),
        simd.splat_f32s(4.0),
    );
    let x2 = simd.mul_f32s(x, x);
    let mut p = simd.splat_f32s(ERF_NUMERATOR[0]);
    for c in &ERF_NUMERATOR[1..] {
        p = simd.mul_add_e_f32s(x2, p, simd.splat_f32s(*c));
    }
    let mut q = simd.splat_f32s(ERF_DENOMINATOR[0]);
    for c in &ERF_DENOMINATOR[1..] {
        q = simd.mul_add_e_f32s(x2, q, simd.splat_f32s(*c));
    }
    simd.div_f32s(simd.mul_f32s(x, p), q)
}

fn erf_scalar(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = ERF_NUMERATOR[1..]
        .iter()
        .fold(ERF_NUMERATOR[0], |p, c| x2 * p + c);
    let q = ERF_DENOMINATOR[1..]
        .iter()
        .fold(ERF_DENOMINATOR[0], |q, c| x2 * q + c);
    x * p / q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gelu_matches_the_exact_one_everywhere() {
        // Every 1/64 over [-10, 10] (an odd count, so the scalar tail runs too), against candle's GELU on the
        // maths library's erf.
        let xs: Vec<f32> = (-640..=640).map(|i| i as f32 / 64.0).collect();
        let exact: Vec<f32> = candle_core::Tensor::new(xs.as_slice(), &candle_core::Device::Cpu)
            .and_then(|t| t.gelu_erf())
            .and_then(|t| t.to_vec1())
            .unwrap_or_default();
        let mut fast = xs.clone();
        gelu(&mut fast);
        assert_eq!(exact.len(), fast.len());
        for ((x, e), f) in xs.iter().zip(&exact).zip(&fast) {
            assert!(
                (e - f).abs() <= 1e-6 * e.abs().max(1.0),
                "gelu({x}): {f} vs {e}"
            );
        }
    }

    #[test]
    fn the_product_matches_the_plain_sum_for_any_shape() {
        let mut seed = 7u32;
        let mut next = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1 << 24) as f32 - 0.5
        };
        // Blocked shapes, odd rows, outputs not a multiple of four, inputs not a multiple of the lanes.
        for (rows, input, output) in [(1, 8, 4), (3, 16, 6), (14, 384, 384), (5, 13, 7), (2, 0, 3)]
        {
            let x: Vec<f32> = (0..rows * input).map(|_| next()).collect();
            let w: Vec<f16> = (0..output * input).map(|_| f16::from_f32(next())).collect();
            let bias: Vec<f32> = (0..output).map(|_| next()).collect();
            let mut out = vec![f32::NAN; rows * output];
            dense(&x, &w, &bias, input, &mut out);
            for i in 0..rows {
                for j in 0..output {
                    let plain: f32 = (0..input)
                        .map(|k| x[i * input + k] * w[j * input + k].to_f32())
                        .sum::<f32>()
                        + bias[j];
                    let got = out[i * output + j];
                    assert!(
                        (got - plain).abs() < 1e-4,
                        "{rows}x{input}x{output} [{i}][{j}]: {got} vs {plain}"
                    );
                }
            }
        }
    }
}
