#!/usr/bin/python3
"""reference.py — a small, readable NumPy reference of Voxtral-4B-TTS inference.

Written from /work/shared/VOXTRAL.md (section numbers cited as §n) and the
project's stage contract.  It is the source of the golden files the C engine is
tested against (tools/make_goldens.py), so it favours clarity over speed: all
math is float64 on the BF16 weights converted exactly, one short function per
step, readable top to bottom:

  loaders ........ safetensors (§1.2), voice .pt zip+pickle (§1.4), params.json
                   (§1.1), tekken.json + byte-level BPE (§1.3, §2.4)
  prompt ......... token layout and voice splicing (§2.1, §2.3)
  backbone ....... Mistral decoder with KV cache, interleaved RoPE (§3)
  audio codes .... codebook offsets and the summed frame embedding (§4)
  acoustic head .. semantic head + mask (§5.1), time embedding (§5.2), velocity
                   network (§5.3), Euler + CFG (§5.4), FSQ (§5.5)
  codec .......... weight norm, causal convs, ALiBi sliding-window layers, unpatch (§6)
  encoder ........ patching, causal strided convs, quantization to codes (§7), and
                   the voice rows of a clip's codes (§4, §7 step 8)
  generate ....... the whole loop (§8.1), for convenience

Needs NumPy and the `regex` module (Debian: python3-numpy, python3-regex).  No torch.
"""
import base64
import collections
import io
import json
import os
import pickle
import struct
import zipfile

import numpy as np
import regex

# ===========================================================================
# Loaders
# ===========================================================================

def bf16_to_f64(u16):
    """BF16 bit patterns -> float64, exactly (bf16 is the top half of an f32)."""
    return (np.asarray(u16, dtype=np.uint32) << 16).view(np.float32).astype(np.float64)


def load_safetensors(path):
    """§1.2: u64 header length, JSON header {name: {dtype, shape, data_offsets}}, data."""
    with open(path, "rb") as f:
        blob = f.read()
    (hlen,) = struct.unpack_from("<Q", blob, 0)
    header = json.loads(blob[8:8 + hlen])
    base = 8 + hlen
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, t = e["data_offsets"]
        raw = blob[base + b:base + t]
        if e["dtype"] == "BF16":
            a = bf16_to_f64(np.frombuffer(raw, dtype="<u2"))
        elif e["dtype"] == "F32":
            a = np.frombuffer(raw, dtype="<f4").astype(np.float64)
        else:
            raise ValueError("%s: unsupported dtype %s" % (name, e["dtype"]))
        out[name] = a.reshape(e["shape"])
    return out


class _TorchUnpickler(pickle.Unpickler):
    """Interprets the tiny data.pkl of a torch.save'd tensor (§1.4) without torch:
    only the three globals such a pickle references are allowed."""

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return lambda storage, offset, size, stride, *rest: (storage, offset, size, stride)
        if module == "torch" and name in ("BFloat16Storage", "HalfStorage", "FloatStorage"):
            return name
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise pickle.UnpicklingError("unexpected global %s.%s" % (module, name))

    def persistent_load(self, pid):
        kind, storage_type, key, location, numel = pid
        assert kind == "storage"
        return (storage_type, key, numel)


def load_voice_pt(path):
    """§1.4: zip archive; root folder = prefix of the data.pkl entry; one tensor
    [N, dim] whose bytes are <root>/data/<key>.  Returns float64 [N, dim]."""
    with zipfile.ZipFile(path) as z:
        pkl = [n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        assert len(pkl) == 1, "%s: expected one data.pkl" % path
        root = pkl[0][:-len("data.pkl")]
        (stype, key, numel), offset, size, stride = _TorchUnpickler(
            io.BytesIO(z.read(pkl[0]))).load()
        raw = z.read(root + "data/" + key)
    dt = {"BFloat16Storage": "<u2", "HalfStorage": "<f2", "FloatStorage": "<f4"}[stype]
    a = np.frombuffer(raw, dtype=dt)
    assert a.size == numel, "%s: storage holds %d values, pickle says %d" % (path, a.size, numel)
    a = bf16_to_f64(a) if stype == "BFloat16Storage" else a.astype(np.float64)
    assert tuple(stride) == (size[1], 1), "only row-major tensors"
    return a[offset:offset + size[0] * size[1]].reshape(size)


def pad128(n):
    return (n + 127) // 128 * 128


class Config:
    """§1.1: the hyper-parameters the engine reads from params.json."""

    def __init__(self, p):
        mm = p["multimodal"]
        am, tk = mm["audio_model_args"], mm["audio_tokenizer_args"]
        at = am["acoustic_transformer_args"]
        self.dim, self.n_layers, self.head_dim = p["dim"], p["n_layers"], p["head_dim"]
        self.n_heads, self.n_kv_heads, self.hidden_dim = p["n_heads"], p["n_kv_heads"], p["hidden_dim"]
        self.rope_theta, self.norm_eps, self.vocab_size = p["rope_theta"], p["norm_eps"], p["vocab_size"]
        self.S = am["semantic_codebook_size"]
        self.L = am["acoustic_codebook_size"]
        self.A = am["n_acoustic_codebook"]
        self.n_codebooks = 1 + self.A
        # acoustic transformer (§5); absent keys take the reference defaults (§1.1)
        self.ac_dim, self.ac_input_dim = at["dim"], at["input_dim"]
        self.ac_n_layers, self.ac_head_dim = at["n_layers"], at["head_dim"]
        self.ac_n_heads, self.ac_n_kv_heads = at["n_heads"], at["n_kv_heads"]
        self.ac_norm_eps = at.get("norm_eps", 1e-5)
        self.n_decoding_steps = at.get("n_decoding_steps", 7)
        # codec (§6)
        self.c_dim, self.c_head_dim, self.c_n_heads = tk["dim"], tk["head_dim"], tk["n_heads"]
        self.c_n_kv_heads = tk["n_kv_heads"]
        self.c_norm_eps, self.c_qk_norm_eps = tk["norm_eps"], tk["qk_norm_eps"]
        self.semantic_dim, self.patch = tk["semantic_dim"], tk["pretransform_patch_size"]
        self.patch_kernel = tk["patch_proj_kernel_size"]
        self.lengths = [int(s) for s in tk["decoder_transformer_lengths_str"].split(",")]
        self.kernels = [int(s) for s in tk["decoder_convs_kernels_str"].split(",")]
        self.strides = [int(s) for s in tk["decoder_convs_strides_str"].split(",")]
        self.window = tk["attn_sliding_window_size"]
        self.half_window = tk["half_attn_window_upon_downsampling"]
        self.samples_per_frame = self.patch * int(np.prod(self.strides))
        self.voices = list(tk["voice"].keys())
        # encoder (§7): each encoder_*_str list when params.json has it, else the
        # decoder's reversed (official: lengths 2,2,2,2, kernels 4,4,4,3, strides 2,2,2,1)
        def enc_list(key, dec):
            return [int(s) for s in tk[key].split(",")] if key in tk else dec[::-1]
        self.enc_lengths = enc_list("encoder_transformer_lengths_str", self.lengths)
        self.enc_kernels = enc_list("encoder_convs_kernels_str", self.kernels)
        self.enc_strides = enc_list("encoder_convs_strides_str", self.strides)


class Tekken:
    """§1.3 / §2.4: byte-level BPE with tiktoken semantics."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            t = json.load(f)
        c = t["config"]
        self.n_special = c["default_num_special_tokens"]
        self.vocab_size = c["default_vocab_size"]
        self.pattern = regex.compile(c["pattern"])
        # Only the first default_vocab_size - n_special ranks are usable (§1.3).
        n_ranks = self.vocab_size - self.n_special
        self.ranks = {}
        for e in t["vocab"][:n_ranks]:
            self.ranks[base64.b64decode(e["token_bytes"])] = e["rank"]
        self.specials = {e["token_str"]: e["rank"] for e in t["special_tokens"]}
        self.voice_num_tokens = t["audio"]["voice_num_audio_tokens"]

    def special_id(self, name):
        return self.specials[name]

    def _bpe(self, piece):
        """Merge the adjacent pair with the lowest rank until none is in the table."""
        if piece in self.ranks:
            return [self.ranks[piece]]
        parts = [bytes([b]) for b in piece]
        while len(parts) > 1:
            best = None
            for i in range(len(parts) - 1):
                r = self.ranks.get(parts[i] + parts[i + 1])
                if r is not None and (best is None or r < best[0]):
                    best = (r, i)
            if best is None:
                break
            i = best[1]
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        return [self.ranks[p] for p in parts]

    def pieces(self, text):
        return self.pattern.findall(text)

    def encode(self, text):
        """Text -> ids (rank + n_special); no BOS/EOS, special strings are plain text."""
        ids = []
        for piece in self.pieces(text):
            ids += [r + self.n_special for r in self._bpe(piece.encode("utf-8"))]
        return ids


class Model:
    """Everything in a model directory (official layout, §1)."""

    def __init__(self, path, encoder=None):
        """encoder: a safetensors file whose tensors (the codec encoder's, §7) are
        added to the checkpoint's."""
        with open(os.path.join(path, "params.json")) as f:
            self.cfg = Config(json.load(f))
        self.w = load_safetensors(os.path.join(path, "consolidated.safetensors"))
        if encoder is not None:
            self.w.update(load_safetensors(encoder))
        self.tok = Tekken(os.path.join(path, "tekken.json"))
        self.voices = {}
        for v in self.cfg.voices:
            rows = load_voice_pt(os.path.join(path, "voice_embedding", v + ".pt"))
            assert rows.shape == (self.tok.voice_num_tokens[v], self.cfg.dim), v
            self.voices[v] = rows
        self._codec_cache = None


# ===========================================================================
# Prompt (§2.1, §2.3)
# ===========================================================================

def build_prompt(m, voice, text):
    """[BOS] [BEGIN_AUDIO] [AUDIO]*N [NEXT_AUDIO_TEXT] text [REPEAT_AUDIO_TEXT] [BEGIN_AUDIO]."""
    t = m.tok
    n = t.voice_num_tokens[voice]
    return ([t.special_id("<s>"), t.special_id("[BEGIN_AUDIO]")] + [t.special_id("[AUDIO]")] * n
            + [t.special_id("[NEXT_AUDIO_TEXT]")] + t.encode(text)
            + [t.special_id("[REPEAT_AUDIO_TEXT]"), t.special_id("[BEGIN_AUDIO]")])


def prompt_embeddings(m, ids, voice):
    """§2.3: token embeddings, [AUDIO] positions replaced in order by the voice rows."""
    E = m.w["mm_audio_embeddings.tok_embeddings.weight"][ids].copy()
    audio_pos = [i for i, t in enumerate(ids) if t == m.tok.special_id("[AUDIO]")]
    assert len(audio_pos) == len(m.voices[voice])
    E[audio_pos] = m.voices[voice]
    return E


# ===========================================================================
# Backbone (§3)
# ===========================================================================

def rms_norm(x, w, eps):
    """y = x / sqrt(mean(x^2) + eps) * w, over the last axis."""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def silu(x):
    return x / (1.0 + np.exp(-x))


def rope(x, positions, theta):
    """§3 interleaved RoPE: rotate pairs (2i, 2i+1) by pos * theta^(-2i/head_dim).
    x: [n, heads, head_dim], positions: [n]."""
    hd = x.shape[-1]
    freqs = theta ** (-np.arange(0, hd, 2) / hd)                 # [hd/2]
    ang = np.asarray(positions, dtype=np.float64)[:, None] * freqs[None, :]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x0 * sin + x1 * cos
    return out


def attention(q, k, v, mask):
    """Softmax(q·k / sqrt(hd)) · v per head.  q [n, H, hd], k/v [m, KV, hd];
    GQA: query head h uses kv head h // (H/KV).  mask [n, m]: True = key allowed."""
    H, KV, hd = q.shape[1], k.shape[1], q.shape[2]
    group = H // KV
    out = np.empty_like(q)
    for h in range(H):
        kh, vh = k[:, h // group], v[:, h // group]
        s = q[:, h] @ kh.T / np.sqrt(hd)
        s = np.where(mask, s, -np.inf)
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        out[:, h] = p @ vh
    return out


class Backbone:
    """The LLM with its KV cache; forward() appends new positions."""

    def __init__(self, m):
        self.m, self.c = m, m.cfg
        self.k = [np.zeros((0, self.c.n_kv_heads, self.c.head_dim)) for _ in range(self.c.n_layers)]
        self.v = [np.zeros((0, self.c.n_kv_heads, self.c.head_dim)) for _ in range(self.c.n_layers)]

    @property
    def pos(self):
        return self.k[0].shape[0]

    def forward(self, x):
        """x: [n, D] input embeddings at positions pos..pos+n-1 -> final-norm hiddens [n, D]."""
        c, w = self.c, self.m.w
        n, start = x.shape[0], self.pos
        positions = np.arange(start, start + n)
        # causal: query i (absolute start+i) sees keys 0..start+i
        mask = np.arange(start + n)[None, :] <= positions[:, None]
        for l in range(c.n_layers):
            p = "layers.%d." % l
            a = rms_norm(x, w[p + "attention_norm.weight"], c.norm_eps)
            q = (a @ w[p + "attention.wq.weight"].T).reshape(n, c.n_heads, c.head_dim)
            k = (a @ w[p + "attention.wk.weight"].T).reshape(n, c.n_kv_heads, c.head_dim)
            v = (a @ w[p + "attention.wv.weight"].T).reshape(n, c.n_kv_heads, c.head_dim)
            q, k = rope(q, positions, c.rope_theta), rope(k, positions, c.rope_theta)
            self.k[l] = np.concatenate([self.k[l], k])
            self.v[l] = np.concatenate([self.v[l], v])
            att = attention(q, self.k[l], self.v[l], mask).reshape(n, -1)
            x = x + att @ w[p + "attention.wo.weight"].T
            b = rms_norm(x, w[p + "ffn_norm.weight"], c.norm_eps)
            ff = silu(b @ w[p + "feed_forward.w1.weight"].T) * (b @ w[p + "feed_forward.w3.weight"].T)
            x = x + ff @ w[p + "feed_forward.w2.weight"].T
        return rms_norm(x, w["norm.weight"], c.norm_eps)


def prefill(m, voice, text, seed_step=False):
    """§3 / §8.1: returns (h, backbone).  h = final-norm hidden at position P-1.
    seed_step (MU lineage, §8.1): feed tok_embeddings[[AUDIO]] at position P and
    use its hidden instead."""
    ids = build_prompt(m, voice, text)
    bb = Backbone(m)
    h = bb.forward(prompt_embeddings(m, ids, voice))[-1]
    if seed_step:
        audio = m.w["mm_audio_embeddings.tok_embeddings.weight"][m.tok.special_id("[AUDIO]")]
        h = bb.forward(audio[None, :])[0]
    return h, bb


# ===========================================================================
# Audio-code embedding (§4)
# ===========================================================================

def codebook_offsets(c):
    """Codebook 0 -> 0; acoustic k (1..A) -> (S+2) + (L+2)(k-1) (unpadded sizes)."""
    return np.array([0] + [(c.S + 2) + (c.L + 2) * (k - 1) for k in range(1, c.A + 1)])


def embed_frame(m, codes):
    """e = sum_c E_audio[offset_c + code_c] for one frame of n_codebooks offset codes."""
    E = m.w["mm_audio_embeddings.audio_codebook_embeddings.embeddings.weight"]
    return E[codebook_offsets(m.cfg) + np.asarray(codes)].sum(axis=0)


def decode(m, voice, text, frames, seed_step=False):
    """Teacher-forced decoding: rows [h_0, h after frame 0, ..., h after frame F-1]."""
    h, bb = prefill(m, voice, text, seed_step)
    rows = [h]
    for f in frames:
        rows.append(bb.forward(embed_frame(m, f)[None, :])[0])
    return np.stack(rows)


# ===========================================================================
# Acoustic head (§5)
# ===========================================================================

def semantic_logits(m, h):
    """§5.1: logits = W_sem · h, index 0 (EMPTY) and indices >= S+2 masked."""
    logits = m.w["acoustic_transformer.semantic_codebook_output.weight"] @ h
    logits[0] = -np.inf
    logits[m.cfg.S + 2:] = -np.inf
    return logits


def semantic_code(m, h):
    """Greedy argmax (first max on ties); 1 = END_AUDIO.  Also returns the margin
    by which the winner beats the runner-up (for golden robustness checks)."""
    logits = semantic_logits(m, h)
    best = int(np.argmax(logits))
    rest = np.delete(logits, best)
    return best, float(logits[best] - rest.max())


def time_embedding(t, dim):
    """§5.2: inv_freq[i] = exp(-ln(10000) i / (dim/2)); concat(cos, sin) — cos first."""
    half = dim // 2
    inv_freq = np.exp(-np.log(10000.0) * np.arange(half) / half)
    return np.concatenate([np.cos(t * inv_freq), np.sin(t * inv_freq)])


def velocity(m, h, x, t):
    """§5.3: 3 tokens [input_projection·x, time_projection·temb(t), llm_projection·h
    (zeros if h is None: unconditional)], bidirectional attention, no RoPE;
    v = acoustic_codebook_output · norm(out)[0]."""
    c, w, p = m.cfg, m.w, "acoustic_transformer."
    cond = np.zeros(c.ac_dim) if h is None else w[p + "llm_projection.weight"] @ h
    xs = np.stack([w[p + "input_projection.weight"] @ x,
                   w[p + "time_projection.weight"] @ time_embedding(t, c.ac_dim),
                   cond])
    allow = np.ones((3, 3), dtype=bool)                 # bidirectional, no mask
    for l in range(c.ac_n_layers):
        q_ = p + "layers.%d." % l
        a = rms_norm(xs, w[q_ + "attention_norm.weight"], c.ac_norm_eps)
        q = (a @ w[q_ + "attention.wq.weight"].T).reshape(3, c.ac_n_heads, c.ac_head_dim)
        k = (a @ w[q_ + "attention.wk.weight"].T).reshape(3, c.ac_n_kv_heads, c.ac_head_dim)
        v = (a @ w[q_ + "attention.wv.weight"].T).reshape(3, c.ac_n_kv_heads, c.ac_head_dim)
        xs = xs + attention(q, k, v, allow).reshape(3, -1) @ w[q_ + "attention.wo.weight"].T
        b = rms_norm(xs, w[q_ + "ffn_norm.weight"], c.ac_norm_eps)
        ff = silu(b @ w[q_ + "feed_forward.w1.weight"].T) * (b @ w[q_ + "feed_forward.w3.weight"].T)
        xs = xs + ff @ w[q_ + "feed_forward.w2.weight"].T
    out = rms_norm(xs, w[p + "norm.weight"], c.ac_norm_eps)
    return w[p + "acoustic_codebook_output.weight"] @ out[0]


def fsq_levels(x, L):
    """§5.5 before rounding: (clamp(x,-1,1)+1)/2 * (L-1) (continuous level)."""
    return (np.clip(x, -1.0, 1.0) + 1.0) / 2.0 * (L - 1)


def fsq_quantize(x, L):
    """§5.5: code = round_half_to_even(level) + 2 (np.round is half-to-even)."""
    return np.round(fsq_levels(x, L)).astype(np.int64) + 2


def fsq_dequantize(q, L):
    """§6.1 inverse for the codec: level q (0..L-1) -> q * 2/(L-1) - 1."""
    return np.asarray(q, dtype=np.float64) * 2.0 / (L - 1) - 1.0


def flow_match(m, h, x0, cfg_alpha=1.2, n_steps=None):
    """§5.4: Euler over t_i = float32(i)/float32(n), v = a·v_cond + (1-a)·v_uncond.
    Returns the final continuous x (before FSQ)."""
    n = m.cfg.n_decoding_steps if n_steps is None else n_steps
    x = np.asarray(x0, dtype=np.float64).copy()
    dt = 1.0 / n
    for i in range(n):
        t = float(np.float32(i) / np.float32(n))
        v = cfg_alpha * velocity(m, h, x, t) + (1.0 - cfg_alpha) * velocity(m, None, x, t)
        x = x + v * dt
    return x


def frame(m, h, x0, cfg_alpha=1.2, n_steps=None):
    """One 1+A-code frame: semantic argmax, then (unless END) flow + FSQ."""
    sem, _ = semantic_code(m, h)
    if sem == 1:                                # END_AUDIO: acoustic codes EMPTY+2
        return np.array([1] + [2] * m.cfg.A)
    x = flow_match(m, h, x0, cfg_alpha, n_steps)
    return np.concatenate([[sem], fsq_quantize(x, m.cfg.L)])


# ===========================================================================
# Codec decoder (§6)
# ===========================================================================

def weight_norm(g, v):
    """§6.3: W = g · v / ||v||, norm over all axes but 0, per axis-0 index, no eps."""
    return g * v / np.sqrt((v * v).sum(axis=tuple(range(1, v.ndim)), keepdims=True))


def pad_left(x, n, mode):
    """Left-pad x [C, T] by n samples.  replicate: repeat x[:, 0]; reflect: mirror
    excluding the edge ([x_n .. x_1, x_0, x_1, ...]).  For reflect with T <= n,
    VO's pad1d first appends zeros on the right so the mirror is defined (§6.3)."""
    if n == 0:
        return x
    if mode == "replicate":
        return np.concatenate([np.repeat(x[:, :1], n, axis=1), x], axis=1)
    assert mode == "reflect"
    T = x.shape[1]
    ext = x if T > n else np.concatenate([x, np.zeros((x.shape[0], n - T + 1))], axis=1)
    return np.concatenate([ext[:, n:0:-1], x], axis=1)


def causal_conv1d(x, W, mode):
    """§6.3 CausalConv1d, stride 1: left pad k-1 with `mode`, valid conv.
    x [Cin, T], W [Cout, Cin, k] -> [Cout, T]."""
    k, T = W.shape[2], x.shape[1]
    xp = pad_left(x, k - 1, mode)
    return sum(W[:, :, j] @ xp[:, j:j + T] for j in range(k))


def causal_conv_transpose1d(x, W, s):
    """§6.3: full transposed conv (length (T-1)s+k, y[:, t*s+j] += W[:, :, j]^T x[:, t])
    then trim k-s samples from the right -> T*s.  W [Cin, Cout, k]."""
    k, T = W.shape[2], x.shape[1]
    y = np.zeros((W.shape[1], (T - 1) * s + k))
    for j in range(k):
        y[:, j:j + (T - 1) * s + 1:s] += W[:, :, j].T @ x
    return y[:, :T * s]


def codec_windows(c):
    """§6.2: W_0 = window / 2^(#stages i>0 with stride>1) when halving is on,
    doubling after each such stage (real model: 2, 4, 8, 16)."""
    n_down = sum(1 for i, s in enumerate(c.strides) if i > 0 and s > 1)
    w = c.window // (2 ** n_down) if c.half_window else c.window
    out = []
    for i, s in enumerate(c.strides):
        if i > 0 and s > 1 and c.half_window:
            w *= 2
        out.append(w)
    return out


def alibi_slopes(n_heads, press=False):
    """§6.4: slope_h = 2^(-8h/H) (official); press: 2^(-8(h+1)/H) (MU lineage)."""
    h = np.arange(n_heads) + (1 if press else 0)
    return 2.0 ** (-8.0 * h / n_heads)


def window_mask(T, W, w_keys=False):
    """Keys allowed for query i: i-W <= j <= i (W+1 keys); w_keys: i-W < j <= i."""
    i, j = np.arange(T)[:, None], np.arange(T)[None, :]
    lo = i - W + (1 if w_keys else 0)
    return (j <= i) & (j >= lo)


def codec_layer(m, p, x, W, alibi_press=False, window_w_keys=False):
    """§6.4 on x [T, dim]: RMSNorm(eps=codec norm_eps), QK-norm over the full
    projection, ALiBi sliding-window attention, LayerScale on both branches."""
    c, w = m.cfg, m.w
    T, H, hd = x.shape[0], c.c_n_heads, c.c_head_dim
    a = rms_norm(x, w[p + "attention_norm.weight"], c.c_norm_eps)
    q = rms_norm(a @ w[p + "attention.wq.weight"].T, w[p + "attention.q_norm.weight"], c.c_qk_norm_eps)
    k = rms_norm(a @ w[p + "attention.wk.weight"].T, w[p + "attention.k_norm.weight"], c.c_qk_norm_eps)
    v = a @ w[p + "attention.wv.weight"].T
    q = q.reshape(T, H, hd)
    k = k.reshape(T, c.c_n_kv_heads, hd)
    v = v.reshape(T, c.c_n_kv_heads, hd)
    allow = window_mask(T, W, window_w_keys)
    rel = np.arange(T)[None, :] - np.arange(T)[:, None]          # j - i (<= 0 where allowed)
    slopes = alibi_slopes(H, alibi_press)
    group = H // c.c_n_kv_heads
    att = np.empty((T, H, hd))
    for h in range(H):
        s = q[:, h] @ k[:, h // group].T / np.sqrt(hd) + slopes[h] * rel
        s = np.where(allow, s, -np.inf)
        pr = np.exp(s - s.max(axis=1, keepdims=True))
        pr /= pr.sum(axis=1, keepdims=True)
        att[:, h] = pr @ v[:, h // group]
    x = x + w[p + "attention_scale"] * (att.reshape(T, -1) @ w[p + "attention.wo.weight"].T)
    b = rms_norm(x, w[p + "ffn_norm.weight"], c.c_norm_eps)
    ff = silu(b @ w[p + "feed_forward.w1.weight"].T) * (b @ w[p + "feed_forward.w3.weight"].T)
    return x + w[p + "ffn_scale"] * (ff @ w[p + "feed_forward.w2.weight"].T)


def semantic_codebook(m):
    """§6.1: C[j] = embedding_sum[j] / max(cluster_usage[j], 1e-5)."""
    q = "audio_tokenizer.quantizer.semantic_codebook."
    return m.w[q + "embedding_sum"] / np.maximum(m.w[q + "cluster_usage"], 1e-5)[:, None]


def codec_latent(m, codes):
    """§6.1: offset codes [F, 1+A] -> latent [semantic_dim + A, F] (channels first)."""
    c = m.cfg
    raw = np.asarray(codes) - 2                    # subtract 2 from every codebook
    assert raw[:, 0].min() >= 0 and raw[:, 0].max() < c.S, "semantic code out of range"
    assert raw[:, 1:].min() >= 0 and raw[:, 1:].max() < c.L, "acoustic code out of range"
    sem = semantic_codebook(m)[raw[:, 0]]          # [F, semantic_dim]
    ac = fsq_dequantize(raw[:, 1:], c.L)           # [F, A]
    return np.concatenate([sem, ac], axis=1).T


def codec_decode(m, codes, alibi_press=False, window_w_keys=False):
    """§6.2: offset codes [F, 1+A] -> waveform [F * samples_per_frame]."""
    c, w = m.cfg, m.w
    x = codec_latent(m, codes)
    for i, (n_layers, W) in enumerate(zip(c.lengths, codec_windows(c))):
        pc = "audio_tokenizer.decoder_blocks.%d.conv.parametrizations.weight." % (2 * i)
        Wc = weight_norm(w[pc + "original0"], w[pc + "original1"])
        if i == 0:
            x = causal_conv1d(x, Wc, "replicate")
        else:
            x = causal_conv_transpose1d(x, Wc, c.strides[i])
        h = x.T                                    # transformer works on [T, dim]
        for j in range(n_layers):
            h = codec_layer(m, "audio_tokenizer.decoder_blocks.%d.layers.%d." % (2 * i + 1, j),
                            h, W, alibi_press, window_w_keys)
        x = h.T
    po = "audio_tokenizer.output_proj.conv.parametrizations.weight."
    out = causal_conv1d(x, weight_norm(w[po + "original0"], w[po + "original1"]), "reflect")
    return out.T.reshape(-1)                       # unpatch: wave[t*patch + c] = out[c, t]


# ===========================================================================
# Codec encoder (§7) and voice rows (§4, §7 step 8)
# ===========================================================================

def pad_right(x, n, mode):
    """Right-pad x [C, T] by n samples: zeros, or repeats of the last sample (replicate)."""
    if n == 0:
        return x
    if mode == "replicate":
        return np.concatenate([x, np.repeat(x[:, -1:], n, axis=1)], axis=1)
    assert mode == "zeros"
    return np.concatenate([x, np.zeros((x.shape[0], n))], axis=1)


def causal_conv1d_strided(x, W, s, mode):
    """§7 CausalConv1d with stride s: left pad k-s with `mode`, right pad
    ceil(T/s)*s - T (the last sample repeated for replicate: odd lengths at
    stride 2), valid conv at stride s.  x [Cin, T], W [Cout, Cin, k] ->
    [Cout, ceil(T/s)].  For reflect the left pad follows pad_left (VO's pad1d
    zero-extends short inputs before reflecting)."""
    k, T = W.shape[2], x.shape[1]
    T_out = -(-T // s)
    xp = pad_left(x, k - s, mode)
    xp = pad_right(xp, T_out * s - T, "replicate" if mode == "replicate" else "zeros")
    return sum(W[:, :, j] @ xp[:, j:j + (T_out - 1) * s + 1:s] for j in range(k))


def encoder_stages(c):
    """§7: per stage (n_layers, window, kernel, stride), the window starting at
    attn_sliding_window_size and halving after every stride > 1 conv (16, 8, 4, 2)."""
    out, w = [], c.window
    for n, k, s in zip(c.enc_lengths, c.enc_kernels, c.enc_strides):
        out.append((n, w, k, s))
        if s > 1 and c.half_window:
            w //= 2
    return out


def encoder_latent(m, wave):
    """§7 steps 1-6: waveform [n] -> latent [semantic_dim + A, ceil(n / samples_per_frame)]."""
    c, w = m.cfg, m.w
    wave = np.asarray(wave, dtype=np.float64)
    n = len(wave)
    assert n > 0, "empty waveform"
    L0 = -(-n // c.patch)
    x = np.concatenate([wave, np.zeros(L0 * c.patch - n)]).reshape(L0, c.patch).T  # [patch, L0]
    pi = "audio_tokenizer.input_proj.conv.parametrizations.weight."
    x = causal_conv1d_strided(x, weight_norm(w[pi + "original0"], w[pi + "original1"]), 1, "reflect")
    stages = encoder_stages(c)
    blk = 0
    for i, (n_layers, W, k, s) in enumerate(stages):
        h = x.T
        for j in range(n_layers):
            h = codec_layer(m, "audio_tokenizer.encoder_blocks.%d.layers.%d." % (blk, j), h, W)
        x = h.T
        blk += 1
        # the conv exists unless it would be an identity 1x1 inside the stack
        if k != 1 or s != 1 or i == len(stages) - 1:
            pc = "audio_tokenizer.encoder_blocks.%d.conv.parametrizations.weight." % blk
            x = causal_conv1d_strided(x, weight_norm(w[pc + "original0"], w[pc + "original1"]),
                                      s, "replicate")
            blk += 1
    assert x.shape == (c.semantic_dim + c.A, -(-n // c.samples_per_frame))
    return x


def encoder_quantize(m, latent):
    """§7 step 7: latent [semantic_dim + A, T] -> offset codes [T, 1+A] (+2, §4):
    semantic = argmin Euclidean distance to the codebook rows (first on ties),
    acoustic = round_half_even((tanh(x)+1)/2 * (L-1)).  Also returns, for the
    golden maker, the smallest relative gap between the best and second-best
    squared distance and the smallest distance of an FSQ level from a .5 boundary."""
    c = m.cfg
    sem_x = latent[:c.semantic_dim].T                                     # [T, sd]
    C = semantic_codebook(m)                                              # [S, sd]
    d2 = ((sem_x[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)           # [T, S]
    sem = np.argmin(d2, axis=1)
    srt = np.sort(d2, axis=1)
    sem_gap = float(np.min((srt[:, 1] - srt[:, 0]) / np.maximum(srt[:, 0], 1e-30)))
    lev = (np.tanh(latent[c.semantic_dim:].T) + 1.0) / 2.0 * (c.L - 1)    # [T, A]
    fsq_gap = float(np.min(np.abs(lev - np.floor(lev) - 0.5)))
    codes = np.concatenate([sem[:, None], np.round(lev).astype(np.int64)], axis=1) + 2
    return codes, sem_gap, fsq_gap


def encode(m, wave):
    """§7: waveform -> offset codes [ceil(n / samples_per_frame), 1+A], no END frame."""
    return encoder_quantize(m, encoder_latent(m, wave))[0]


def voice_rows(m, codes):
    """§4 + §7 step 8: offset codes [T, 1+A] -> rows [T+1, dim]: each frame's summed
    embedding, then the END frame [1, 0, ..., 0] (semantic END, acoustic EMPTY)."""
    end = np.zeros(m.cfg.n_codebooks, dtype=np.int64)
    end[0] = 1
    return np.stack([embed_frame(m, f) for f in np.asarray(codes)] + [embed_frame(m, end)])


# ===========================================================================
# Generation loop (§8.1), for convenience
# ===========================================================================

def generate(m, voice, text, max_frames=50, seed=42, cfg_alpha=1.2, n_steps=None,
             seed_step=False):
    """Greedy semantic codes, flow-matched acoustic codes, stop at END; returns
    (frames [F, 1+A] offset codes, waveform)."""
    rng = np.random.default_rng(seed)
    h, bb = prefill(m, voice, text, seed_step)
    frames = []
    for _ in range(max_frames):
        f = frame(m, h, rng.standard_normal(m.cfg.A), cfg_alpha, n_steps)
        if f[0] == 1:
            break
        frames.append(f)
        h = bb.forward(embed_frame(m, f)[None, :])[0]
    frames = np.array(frames, dtype=np.int64).reshape(-1, m.cfg.n_codebooks)
    wave = codec_decode(m, frames) if len(frames) else np.zeros(0)
    return frames, wave


if __name__ == "__main__":
    import sys
    if len(sys.argv) < 4:
        sys.exit("usage: reference.py MODEL_DIR VOICE TEXT  (prints the generated codes)")
    mod = Model(sys.argv[1])
    fr, wav = generate(mod, sys.argv[2], sys.argv[3])
    print(fr)
    print("%d frames, %d samples" % (len(fr), len(wav)))
