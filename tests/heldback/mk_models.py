#!/usr/bin/python3
"""Held-back models for the architecture checks, written with llama.cpp's own
gguf-py (not azc's GGUF writer), in shapes, sliding windows and soft-caps other
than azc's tiny-* presets (frontend/synth.c), with random weights in F32.

usage: /usr/bin/python3 mk_models.py OUTDIR TINY_DIR GGUF_PY [hb|hk]
  TINY_DIR holds azc's tiny-<arch>.F32.gguf (azc mkmodel --shape tiny-<arch>),
  whose tokenizer.* keys are copied; GGUF_PY is llama.cpp's gguf-py folder.
  hb: dims not multiples of 256 (llama-quantize's K-quant fallbacks: q5_0, q5_1,
  q8_0); hk: rows of 256, so Q4_K_M holds Q4_K and Q6_K. See README.md."""
import sys, os, math
sys.path.insert(0, sys.argv[3])
# gguf-py imports sentencepiece for its vocab helpers, which are not used here
if 'sentencepiece' not in sys.modules:
    import types
    sys.modules['sentencepiece'] = types.SimpleNamespace(SentencePieceProcessor=object)
import numpy as np
import gguf
from gguf import GGUFWriter, GGUFReader, GGUFValueType as VT

out, tinydir = sys.argv[1], sys.argv[2]
which = sys.argv[4] if len(sys.argv) > 4 else 'hb'
rng = np.random.default_rng(1234)

def copy_vocab(w, src):
    r = GGUFReader(src)
    for k, f in r.fields.items():
        if not k.startswith('tokenizer.') or k == 'tokenizer.chat_template':
            continue
        t = f.types[0]
        if t == VT.ARRAY:
            w.add_key_value(k, f.contents(), VT.ARRAY, sub_type=f.types[-1])
        else:
            w.add_key_value(k, f.contents(), t)
    return len(r.fields['tokenizer.ggml.tokens'].data)

def W(*shape, scale=None):  # numpy shape = (rows=n_out, cols=n_in)
    fan_in = shape[-1]
    s = scale if scale is not None else 1.0 / math.sqrt(fan_in)
    return (rng.standard_normal(shape) * s).astype(np.float32)

def N(n):  # a norm weight near 1
    return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

def B(n):
    return (0.05 * rng.standard_normal(n)).astype(np.float32)

def model(name, arch, vocab_src, L, dim, nh, nkv, hd, ff, extra_kv=None, ctx=2048, tied=False,
          biases=False, qkv_bias=False, qk_norm=False, sandwich=False, layernorm=False, gelu_mlp=False,
          fused_qkv=False, fused_gate_up=False, rope_freqs=False, rope_factors=False, pos_embd=False):
    path = os.path.join(out, name + '.F32.gguf')
    w = GGUFWriter(path, arch)
    nv = copy_vocab(w, vocab_src)
    w.add_context_length(ctx)
    w.add_embedding_length(dim)
    w.add_block_count(L)
    w.add_feed_forward_length(ff)
    w.add_head_count(nh)
    w.add_head_count_kv(nkv)
    if layernorm:
        w.add_layer_norm_eps(1e-5)
    else:
        w.add_layer_norm_rms_eps(1e-6)
    if hd != dim // nh:
        w.add_key_length(hd)
        w.add_value_length(hd)
    w.add_file_type(0)
    for k, (v, t) in (extra_kv or {}).items():
        w.add_key_value(k, v, t)
    T = w.add_tensor
    T('token_embd.weight', W(nv, dim, scale=1.0))
    if pos_embd:
        T('position_embd.weight', W(ctx, dim, scale=0.1))
    for i in range(L):
        p = 'blk.%d.' % i
        T(p + 'attn_norm.weight', N(dim))
        if layernorm: T(p + 'attn_norm.bias', B(dim))
        if fused_qkv:
            T(p + 'attn_qkv.weight', W((nh + 2 * nkv) * hd, dim))
            if biases: T(p + 'attn_qkv.bias', B((nh + 2 * nkv) * hd))
        else:
            T(p + 'attn_q.weight', W(nh * hd, dim))
            T(p + 'attn_k.weight', W(nkv * hd, dim))
            T(p + 'attn_v.weight', W(nkv * hd, dim))
            if biases or qkv_bias:
                T(p + 'attn_q.bias', B(nh * hd)); T(p + 'attn_k.bias', B(nkv * hd)); T(p + 'attn_v.bias', B(nkv * hd))
        if qk_norm:
            T(p + 'attn_q_norm.weight', N(hd)); T(p + 'attn_k_norm.weight', N(hd))
        T(p + 'attn_output.weight', W(dim, nh * hd))
        if biases: T(p + 'attn_output.bias', B(dim))
        if sandwich: T(p + 'post_attention_norm.weight', N(dim))
        T(p + 'ffn_norm.weight', N(dim))
        if layernorm: T(p + 'ffn_norm.bias', B(dim))
        if gelu_mlp:
            T(p + 'ffn_up.weight', W(ff, dim))
            if biases: T(p + 'ffn_up.bias', B(ff))
        elif fused_gate_up:
            T(p + 'ffn_up.weight', W(2 * ff, dim))
        else:
            T(p + 'ffn_gate.weight', W(ff, dim)); T(p + 'ffn_up.weight', W(ff, dim))
        T(p + 'ffn_down.weight', W(dim, ff))
        if biases: T(p + 'ffn_down.bias', B(dim))
        if sandwich: T(p + 'post_ffw_norm.weight', N(dim))
    T('output_norm.weight', N(dim))
    if layernorm: T('output_norm.bias', B(dim))
    if not tied:
        T('output.weight', W(nv, dim))
    if rope_freqs:
        T('rope_freqs.weight', (1.0 + 3.0 * rng.random(hd // 2)).astype(np.float32))
    if rope_factors:
        T('rope_factors_long.weight', (1.0 + 4.0 * rng.random(extra_kv['%s.rope.dimension_count' % arch][0] // 2)).astype(np.float32))
        T('rope_factors_short.weight', (1.0 + 0.5 * rng.random(extra_kv['%s.rope.dimension_count' % arch][0] // 2)).astype(np.float32))
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    print('wrote', path)

F, U, S, Bo = VT.FLOAT32, VT.UINT32, VT.STRING, VT.BOOL
_model = model
def model(name, *a, **k):
    if name.startswith(which + '-'): _model(name, *a, **k)
t = lambda a: os.path.join(tinydir, 'tiny-%s.F32.gguf' % a)
# llama, Llama-3 style: rope_freqs, base 500000, GQA 6/2, head_dim 24 != 144/6? keep = dim/nh
model('hb-llama3', 'llama', t('llama3'), 3, 160, 5, 1, 32, 416, rope_freqs=True,
      extra_kv={'llama.rope.freq_base': (500000.0, F), 'llama.rope.dimension_count': (32, U)})
# Mistral-Nemo style: key_length 32 with dim 128, 8 heads (32*8=256 != 128)
model('hb-nemo', 'llama', t('llama3'), 2, 128, 8, 2, 32, 320,
      extra_kv={'llama.rope.freq_base': (1000000.0, F), 'llama.rope.dimension_count': (32, U)})
model('hb-qwen2', 'qwen2', t('qwen2'), 3, 96, 6, 2, 16, 256, qkv_bias=True,
      extra_kv={'qwen2.rope.freq_base': (1000000.0, F)})
model('hb-qwen3', 'qwen3', t('qwen3'), 3, 96, 4, 2, 40, 224, qk_norm=True,
      extra_kv={'qwen3.rope.freq_base': (1000000.0, F)})
model('hb-gemma2', 'gemma2', t('gemma2'), 4, 128, 4, 2, 48, 256, tied=True, sandwich=True,
      extra_kv={'gemma2.attention.sliding_window': (12, U), 'gemma2.attn_logit_softcapping': (20.0, F),
                'gemma2.final_logit_softcapping': (12.0, F), 'gemma2.rope.freq_base': (10000.0, F)})
model('hb-gemma3', 'gemma3', t('gemma3'), 6, 128, 4, 1, 32, 256, tied=True, sandwich=True, qk_norm=True,
      extra_kv={'gemma3.attention.sliding_window': (10, U), 'gemma3.rope.freq_base': (1000000.0, F),
                'gemma3.rope.scaling.type': ('linear', S), 'gemma3.rope.scaling.factor': (8.0, F)})
model('hb-phi3', 'phi3', t('phi3'), 3, 96, 4, 4, 24, 192, fused_qkv=True, fused_gate_up=True,
      extra_kv={'phi3.rope.dimension_count': (24, U), 'phi3.rope.freq_base': (10000.0, F)})
model('hb-phi3-long', 'phi3', t('phi3'), 2, 96, 4, 4, 24, 192, fused_qkv=True, fused_gate_up=True, rope_factors=True,
      ctx=131072,
      extra_kv={'phi3.rope.dimension_count': (24, U), 'phi3.rope.freq_base': (10000.0, F),
                'phi3.rope.scaling.original_context_length': (4096, U),
                'phi3.rope.scaling.attn_factor': (1.19, F)})
model('hb-starcoder2', 'starcoder2', t('starcoder2'), 3, 96, 6, 2, 16, 288, biases=True, layernorm=True, gelu_mlp=True,
      extra_kv={'starcoder2.rope.freq_base': (100000.0, F)})
# shapes whose rows are multiples of 256, so Q4_K_M really holds Q4_K / Q6_K
if True:
    model('hk-llama', 'llama', t('llama3'), 2, 256, 4, 2, 64, 768,
          extra_kv={'llama.rope.freq_base': (10000.0, F), 'llama.rope.dimension_count': (64, U)})
    model('hk-gemma2', 'gemma2', t('gemma2'), 4, 256, 4, 2, 64, 512, tied=True, sandwich=True,
          extra_kv={'gemma2.attention.sliding_window': (24, U), 'gemma2.attn_logit_softcapping': (25.0, F),
                    'gemma2.final_logit_softcapping': (10.0, F), 'gemma2.rope.freq_base': (10000.0, F)})
    model('hk-qwen3', 'qwen3', t('qwen3'), 2, 256, 4, 2, 128, 768, qk_norm=True,
          extra_kv={'qwen3.rope.freq_base': (1000000.0, F)})
    model('hk-gemma3', 'gemma3', t('gemma3'), 6, 256, 4, 1, 64, 512, tied=True, sandwich=True, qk_norm=True,
          extra_kv={'gemma3.attention.sliding_window': (32, U), 'gemma3.rope.freq_base': (1000000.0, F),
                    'gemma3.rope.scaling.type': ('linear', S), 'gemma3.rope.scaling.factor': (8.0, F)})
