//! A BERT encoder on candle-nn for one sentence at a time: what sentence-embedding models of the MiniLM class run.
//!
//! candle-transformers carries the same model among a hundred others and costs a minute and a half of every
//! cold build; this is the one forward pass the assistant needs. Weights use the Hugging Face names
//! (`embeddings.word_embeddings.weight`, `encoder.layer.N.attention.self.query.weight`, …).

use candle_core::{D, DType, Device, Module, Result, Tensor};
use candle_nn::{Embedding, LayerNorm, VarBuilder, embedding, layer_norm};
use serde::Deserialize;

mod dense;
pub use dense::{dense, gelu};

/// The model's `config.json`: the shapes, and the activation (only `gelu`, as BERT and MiniLM use, is known).
#[derive(Clone, Debug, Deserialize)]
pub struct Config {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab_size")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
}

fn default_type_vocab_size() -> usize {
    2
}

fn default_eps() -> f64 {
    1e-12
}

fn default_act() -> String {
    "gelu".to_owned()
}

/// A dense layer, `x · Wᵀ + b`, computed by [`dense`].
struct Dense {
    /// `[output, input]`, row-major as stored, in half precision (see [`dense`]).
    weight: Vec<half::f16>,
    bias: Vec<f32>,
    input: usize,
    output: usize,
}

impl Dense {
    fn load(input: usize, output: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Dense {
            weight: vb
                .get((output, input), "weight")?
                .flatten_all()?
                .to_dtype(DType::F16)?
                .to_vec1()?,
            bias: vb.get(output, "bias")?.to_vec1()?,
            input,
            output,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_then(x, |_| ())
    }

    /// The layer, then `activation` on its output in place.
    fn forward_then(&self, x: &Tensor, activation: impl FnOnce(&mut [f32])) -> Result<Tensor> {
        let (rows, input) = x.dims2()?;
        if input != self.input {
            candle_core::bail!("{input} inputs for a layer of {}", self.input);
        }
        let x: Vec<f32> = x.flatten_all()?.to_vec1()?;
        let mut out = vec![0f32; rows * self.output];
        dense(&x, &self.weight, &self.bias, self.input, &mut out);
        activation(&mut out);
        Tensor::from_vec(out, (rows, self.output), &Device::Cpu)
    }
}

struct Layer {
    query: Dense,
    key: Dense,
    value: Dense,
    attention_out: Dense,
    attention_norm: LayerNorm,
    intermediate: Dense,
    output: Dense,
    output_norm: LayerNorm,
}

/// The encoder: embeddings, then the layers of self-attention and feed-forward.
pub struct Bert {
    words: Embedding,
    positions: Embedding,
    types: Embedding,
    embeddings_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    head_size: usize,
    max_positions: usize,
}

impl Bert {
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        if config.hidden_act != "gelu" {
            candle_core::bail!(
                "activation {:?} is not supported (only gelu)",
                config.hidden_act
            );
        }
        if config.num_attention_heads == 0
            || !config
                .hidden_size
                .is_multiple_of(config.num_attention_heads)
        {
            candle_core::bail!("hidden_size must be a multiple of num_attention_heads");
        }
        let h = config.hidden_size;
        let norm = |vb: VarBuilder| layer_norm(h, config.layer_norm_eps, vb);
        let e = vb.pp("embeddings");
        let words = embedding(config.vocab_size, h, e.pp("word_embeddings"))?;
        let positions = embedding(
            config.max_position_embeddings,
            h,
            e.pp("position_embeddings"),
        )?;
        let types = embedding(config.type_vocab_size, h, e.pp("token_type_embeddings"))?;
        let embeddings_norm = norm(e.pp("LayerNorm"))?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{i}"));
            let attention = l.pp("attention");
            layers.push(Layer {
                query: Dense::load(h, h, attention.pp("self.query"))?,
                key: Dense::load(h, h, attention.pp("self.key"))?,
                value: Dense::load(h, h, attention.pp("self.value"))?,
                attention_out: Dense::load(h, h, attention.pp("output.dense"))?,
                attention_norm: norm(attention.pp("output.LayerNorm"))?,
                intermediate: Dense::load(h, config.intermediate_size, l.pp("intermediate.dense"))?,
                output: Dense::load(config.intermediate_size, h, l.pp("output.dense"))?,
                output_norm: norm(l.pp("output.LayerNorm"))?,
            });
        }
        Ok(Bert {
            words,
            positions,
            types,
            embeddings_norm,
            layers,
            heads: config.num_attention_heads,
            head_size: h / config.num_attention_heads,
            max_positions: config.max_position_embeddings,
        })
    }

    /// The mean of the last layer's token vectors for one sentence's token ids (`[CLS] … [SEP]`).
    pub fn mean_pooled(&self, ids: &[u32]) -> Result<Tensor> {
        let n = ids.len();
        if n == 0 || n > self.max_positions {
            candle_core::bail!("{n} tokens: between 1 and {}", self.max_positions);
        }
        let device = &Device::Cpu;
        let ids = Tensor::new(ids, device)?;
        let positions = Tensor::arange(0u32, n as u32, device)?;
        let types = Tensor::zeros(n, DType::U32, device)?;
        let mut x = self.words.forward(&ids)?;
        x = (x + self.positions.forward(&positions)?)?;
        x = (x + self.types.forward(&types)?)?;
        x = self.embeddings_norm.forward(&x)?;
        let scale = 1.0 / (self.head_size as f64).sqrt();
        for layer in &self.layers {
            // [n, hidden] → [heads, n, head_size]
            let split = |t: Tensor| -> Result<Tensor> {
                t.reshape((n, self.heads, self.head_size))?
                    .transpose(0, 1)?
                    .contiguous()
            };
            let q = split(layer.query.forward(&x)?)?;
            let k = split(layer.key.forward(&x)?)?;
            let v = split(layer.value.forward(&x)?)?;
            let scores = (q.matmul(&k.t()?)? * scale)?;
            let weights = candle_nn::ops::softmax_last_dim(&scores)?;
            let context = weights
                .matmul(&v)?
                .transpose(0, 1)?
                .reshape((n, self.heads * self.head_size))?;
            let attended = layer
                .attention_norm
                .forward(&(layer.attention_out.forward(&context)? + &x)?)?;
            let hidden = layer.intermediate.forward_then(&attended, gelu)?;
            x = layer
                .output_norm
                .forward(&(layer.output.forward(&hidden)? + &attended)?)?;
        }
        x.mean(D::Minus2)
    }
}
