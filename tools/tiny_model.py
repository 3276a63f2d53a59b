#!/usr/bin/python3
"""tiny_model.py — writes a tiny Voxtral-TTS checkpoint in the exact official layout.

The real 8 GB checkpoint cannot be downloaded here, so the engine's loaders and
numerics are tested on small checkpoints that look exactly like the official
files (VOXTRAL.md §1) but have small dimensions and seeded random weights:

  params.json               every key of the official file (§1.1), same nesting,
                            comma-separated *_str fields, voice as name -> index,
                            no n_decoding_steps / acoustic norm_eps (like the real file)
  consolidated.safetensors  the official tensor names (§1.2 A, B, C), all BF16,
                            no encoder tensors, no extras
  encoder.safetensors       the codec encoder's tensors (§7), official names, BF16,
                            in a file of their own (the official checkpoint has
                            none; the engine attaches them with --encoder FILE);
                            drawn from their own seeded generator, so adding them
                            changed no byte of the other files
  tekken.json               official schema (§1.3): config with the real split
                            pattern (§2.4), vocab {rank, token_bytes, token_str}
                            with more entries than default_vocab_size allows (the
                            extra ones must be ignored), special_tokens 0..999 and
                            an audio section with voice_num_audio_tokens
  voice_embedding/<v>.pt    real PyTorch zip archives holding one BF16 tensor
                            [N, dim] (§1.4), pickle bytes crafted by hand

Everything is written with the standard library + NumPy (no torch, no
safetensors package).  Output is deterministic for a given config and seed.

Usage:  /usr/bin/python3 tools/tiny_model.py tiny-a tests/models/tiny-a [--seed N]
"""
import argparse
import base64
import collections
import json
import os
import struct
import sys
import zlib

import numpy as np

try:
    import regex  # Debian python3-regex: Unicode property classes for the split pattern
except ImportError:  # pragma: no cover
    sys.exit("tiny_model.py needs the 'regex' module: apt-get install -y python3-regex")

# The pre-tokenizer pattern of the Voxtral tekken.json (VOXTRAL.md §2.4), verbatim.
TEKKEN_PATTERN = (
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"
    r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

NUM_SPECIAL = 1000
# Official special-token names at their official ranks (VOXTRAL.md §1.3); the rest
# are <SPECIAL_i>, as mistral-common pads them.
SPECIAL_NAMES = {0: "<unk>", 1: "<s>", 2: "</s>", 3: "[INST]", 4: "[/INST]",
                 24: "[AUDIO]", 25: "[BEGIN_AUDIO]", 26: "[OUTPUT_AUDIO]",
                 35: "[REPEAT_AUDIO_TEXT]", 36: "[NEXT_AUDIO_TEXT]"}

# Small multilingual text the tiny BPE merges are learned from (written for this project).
BPE_CORPUS = """
The quick brown fox jumps over the lazy dog. Hello world, this is a small test of the
speech engine. It reads the text, turns it into tokens and then into sound. The weather
is nice today, and the voice sounds warm and clear. Numbers like 1234 and 2026 are read
one digit at a time. Where is the station? There, on the other side of the river.
Bonjour tout le monde, ceci est un petit essai. Le café est très chaud, et la voix est
claire. Où est la gare ? Elle est là, de l'autre côté de la rivière. Ça va très bien.
Guten Tag, das ist ein kleiner Test. Über die Brücke gehen wir schnell nach Hause.
Die Straße ist lang, und das Wetter ist schön. Wie geht es dir? Mir geht es gut.
Hola a todos, esto es una pequeña prueba. ¿Dónde está la estación? Está allí, al otro
lado del río. La canción es muy bonita y la mañana es tranquila.
Ciao a tutti, questa è una piccola prova. La città è bella e il tempo è buono.
Olá a todos, este é um pequeno teste. A canção é bonita e a manhã está calma.
Hallo allemaal, dit is een kleine test. Het weer is mooi vandaag.
नमस्ते दुनिया, यह एक छोटा परीक्षण है। مرحبا بالعالم، هذا اختبار صغير.
Tabs\tand\nnew lines, "quotes", (parentheses) - dashes — and… ellipses!!
"""

# Two checkpoint shapes (see the brief in tests/golden/README.md).  Everything the
# engine needs comes from params.json; these dicts only drive this generator.
CONFIGS = {
    "tiny-a": dict(
        seed=20260301,
        dim=64, n_layers=2, head_dim=16, n_heads=4, n_kv_heads=2, hidden_dim=160,
        rope_theta=1000000.0, norm_eps=1e-05, vocab_size=1536, num_vocab_tokens=600,
        S=64, L=21, A=36,
        ac=dict(dim=64, n_layers=2, head_dim=16, n_heads=4, n_kv_heads=2, hidden_dim=160),
        codec=dict(dim=64, hidden_dim=128, head_dim=8, n_heads=8, semantic_dim=16,
                   patch=240, patch_proj_kernel_size=7, lengths="2,2,2,2",
                   kernels="3,4,4,4", strides="1,2,2,2", window=16,
                   norm_eps=0.01, qk_norm_eps=1e-06),
        sampling_rate=24000,
        voices=[("alpha_female", 3), ("beta_male", 5), ("gamma_female", 7)],
    ),
    "tiny-b": dict(
        seed=20260302,
        dim=96, n_layers=3, head_dim=24, n_heads=4, n_kv_heads=1, hidden_dim=192,
        rope_theta=10000.0, norm_eps=1e-06, vocab_size=1536, num_vocab_tokens=620,
        S=40, L=9, A=8,
        ac=dict(dim=48, n_layers=1, head_dim=12, n_heads=4, n_kv_heads=2, hidden_dim=80),
        codec=dict(dim=48, hidden_dim=96, head_dim=12, n_heads=4, semantic_dim=8,
                   patch=120, patch_proj_kernel_size=5, lengths="1,2,1",
                   kernels="3,4,4", strides="1,2,2", window=8,
                   norm_eps=0.05, qk_norm_eps=1e-06),
        sampling_rate=6000,
        voices=[("delta_male", 4), ("epsilon_female", 6)],
    ),
}


def pad128(n):
    return (n + 127) // 128 * 128


# ---------------------------------------------------------------------------
# BF16 and safetensors (§1.2)
# ---------------------------------------------------------------------------

def to_bf16_bits(a):
    """float -> bf16 bit patterns (uint16), round to nearest even, like torch."""
    f = np.ascontiguousarray(a, dtype=np.float32)
    u = f.view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def write_safetensors(path, tensors):
    """tensors: dict name -> uint16 bf16 array.  Standard layout: u64 header size,
    JSON header (space padded to 8 bytes), raw little-endian data."""
    header = {"__metadata__": {"format": "pt"}}
    blobs, offset = [], 0
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype="<u2").tobytes()
        header[name] = {"dtype": "BF16", "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------------------
# PyTorch zip archive with one BF16 tensor (§1.4)
# ---------------------------------------------------------------------------

def _pickle_int(n):
    """The integer opcodes pickle protocol 2 emits for a non-negative int."""
    if n < 0x100:
        return b"K" + struct.pack("<B", n)
    if n < 0x10000:
        return b"M" + struct.pack("<H", n)
    return b"J" + struct.pack("<i", n)


def torch_tensor_pickle(rows, cols):
    """data.pkl bytes exactly as torch.save(tensor) writes them (protocol 2):
    _rebuild_tensor_v2(persistent ('storage', BFloat16Storage, '0', 'cuda:0', numel),
    0, (rows, cols), (cols, 1), False, OrderedDict()), with the memo puts
    (BINPUT) the Python pickler emits."""
    def uni(s):
        return b"X" + struct.pack("<I", len(s)) + s.encode()
    p = b"\x80\x02"
    p += b"ctorch._utils\n_rebuild_tensor_v2\nq\x00"
    p += b"("                                            # MARK: args of _rebuild_tensor_v2
    p += b"(" + uni("storage") + b"q\x01"                # MARK: persistent id tuple
    p += b"ctorch\nBFloat16Storage\nq\x02"
    p += uni("0") + b"q\x03" + uni("cuda:0") + b"q\x04"
    p += _pickle_int(rows * cols) + b"tq\x05Q"           # TUPLE, BINPERSID
    p += _pickle_int(0)                                  # storage offset
    p += _pickle_int(rows) + _pickle_int(cols) + b"\x86q\x06"   # size
    p += _pickle_int(cols) + _pickle_int(1) + b"\x86q\x07"      # stride
    p += b"\x89"                                         # requires_grad False
    p += b"ccollections\nOrderedDict\nq\x08)Rq\t"         # backward hooks
    p += b"tq\nRq\x0b."
    return p


def write_torch_zip(path, root, bf16_rows):
    """A torch >= 1.6 zip archive: stored (uncompressed) members, every member's
    data 64-byte aligned through an 'FB' padding extra field (like torch's writer),
    CRC-32s, central directory, end record."""
    rows, cols = bf16_rows.shape
    members = [
        ("data.pkl", torch_tensor_pickle(rows, cols)),
        (".format_version", b"1"),
        (".storage_alignment", b"64"),
        ("byteorder", b"little"),
        ("data/0", np.ascontiguousarray(bf16_rows, dtype="<u2").tobytes()),
        ("version", b"3\n"),
        (".data/serialization_id", b"0123456789012345678901234567890123456789"),
    ]
    out, central = bytearray(), bytearray()
    dos_time, dos_date = 0, (0 << 9) | (1 << 5) | 1  # 1980-01-01 00:00
    for name, data in members:
        fname = (root + "/" + name).encode()
        crc = zlib.crc32(data) & 0xFFFFFFFF
        offset = len(out)
        base = offset + 30 + len(fname) + 4
        pad = (64 - base % 64) % 64
        extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, dos_time, dos_date,
                           crc, len(data), len(data), len(fname), len(extra))
        out += fname + extra
        assert len(out) % 64 == 0
        out += data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, dos_time,
                               dos_date, crc, len(data), len(data), len(fname), 0, 0, 0,
                               0, 0, offset)
        central += fname
    cd_offset = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members),
                       len(central), cd_offset, 0)
    with open(path, "wb") as f:
        f.write(out)


# ---------------------------------------------------------------------------
# tekken.json (§1.3) with a tiny byte-level BPE vocabulary (§2.4)
# ---------------------------------------------------------------------------

def train_bpe(text, n_ranks):
    """Ranks 0..255 are the single bytes in byte order; then learn merges on the
    pre-tokenized corpus (most frequent adjacent pair, ties broken by bytes)
    until n_ranks distinct tokens exist.  Returns the list of token bytes."""
    pieces = collections.Counter(regex.findall(TEKKEN_PATTERN, text))
    words = [([bytes([b]) for b in p.encode()], c) for p, c in pieces.items()]
    vocab = [bytes([b]) for b in range(256)]
    known = set(vocab)
    while len(vocab) < n_ranks:
        pairs = collections.Counter()
        for parts, c in words:
            for a, b in zip(parts, parts[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merged = best[0] + best[1]
        if merged not in known:
            vocab.append(merged)
            known.add(merged)
        for parts, _ in words:
            i = 0
            while i < len(parts) - 1:
                if parts[i] == best[0] and parts[i + 1] == best[1]:
                    parts[i:i + 2] = [merged]
                i += 1
    assert len(vocab) == n_ranks, "corpus too small for the requested vocabulary"
    return vocab


def write_tekken(path, c):
    used = c["vocab_size"] - NUM_SPECIAL          # ranks the tokenizer may use
    vocab = train_bpe(BPE_CORPUS, c["num_vocab_tokens"])
    entries = []
    for rank, tok in enumerate(vocab):
        try:
            s = tok.decode("utf-8")
        except UnicodeDecodeError:
            s = None
        entries.append({"rank": rank, "token_bytes": base64.b64encode(tok).decode(),
                        "token_str": s})
    specials = [{"rank": i, "token_str": SPECIAL_NAMES.get(i, "<SPECIAL_%d>" % i),
                 "is_control": True} for i in range(NUM_SPECIAL)]
    doc = {
        "config": {"pattern": TEKKEN_PATTERN, "num_vocab_tokens": c["num_vocab_tokens"],
                   "default_vocab_size": c["vocab_size"],
                   "default_num_special_tokens": NUM_SPECIAL, "version": "v7"},
        "vocab": entries,
        "special_tokens": specials,
        "audio": {"sampling_rate": c["sampling_rate"], "frame_rate": 12.5,
                  "audio_encoding_config": {"num_mel_bins": 128, "hop_length": 160,
                                            "window_size": 400},
                  "chunk_length_s": 30.0,
                  "voice_num_audio_tokens": {v: n for v, n in c["voices"]}},
    }
    assert used < len(entries), "the vocab must hold entries past the usable ranks"
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=None, separators=(",", ":"))


# ---------------------------------------------------------------------------
# params.json (§1.1)
# ---------------------------------------------------------------------------

def params_json(c):
    cc, ac = c["codec"], c["ac"]
    strides = [int(s) for s in cc["strides"].split(",")]
    spf = cc["patch"] * int(np.prod(strides))
    assert c["sampling_rate"] == spf * 12.5, "sampling rate must give 12.5 frames/s"
    return {
        "dim": c["dim"], "n_layers": c["n_layers"], "head_dim": c["head_dim"],
        "hidden_dim": c["hidden_dim"], "n_heads": c["n_heads"], "n_kv_heads": c["n_kv_heads"],
        "use_biases": False, "causal": True, "rope_theta": c["rope_theta"],
        "norm_eps": c["norm_eps"], "vocab_size": c["vocab_size"], "model_parallel": 1,
        "tied_embeddings": True, "max_seq_len": 65536, "model_type": "voxtral_tts",
        "max_position_embeddings": 128000,
        "multimodal": {
            "bos_token_id": 1,
            "audio_model_args": {
                "semantic_codebook_size": c["S"], "acoustic_codebook_size": c["L"],
                "n_acoustic_codebook": c["A"],
                "audio_encoding_args": {
                    "codebook_pattern": "parallel",
                    "interleave_audio_tokens_per_segment": 8192,
                    "interleave_text_tokens_per_segment": 8192,
                    "single_trailing_segment": False, "num_codebooks": 1 + c["A"],
                    "sampling_rate": c["sampling_rate"], "frame_rate": 12.5},
                "audio_token_id": 24, "begin_audio_token_id": 25,
                "input_embedding_concat_type": "sum",
                "acoustic_transformer_args": {
                    "input_dim": c["dim"], "dim": ac["dim"], "n_layers": ac["n_layers"],
                    "head_dim": ac["head_dim"], "hidden_dim": ac["hidden_dim"],
                    "n_heads": ac["n_heads"], "n_kv_heads": ac["n_kv_heads"],
                    "use_biases": False, "rope_theta": 10000.0, "sigma": 1e-05,
                    "sigma_max": 1.0},
                "p_uncond": 0.0, "text_feature_bugged": False,
                "condition_dropped_token_id": 42},
            "audio_tokenizer_args": {
                "channels": 1, "sampling_rate": c["sampling_rate"],
                "pretransform_patch_size": cc["patch"],
                "patch_proj_kernel_size": cc["patch_proj_kernel_size"],
                "semantic_codebook_size": c["S"], "semantic_dim": cc["semantic_dim"],
                "acoustic_codebook_size": c["L"], "acoustic_dim": c["A"],
                "conv_weight_norm": True, "causal": True,
                "attn_sliding_window_size": cc["window"],
                "half_attn_window_upon_downsampling": True,
                "dim": cc["dim"], "hidden_dim": cc["hidden_dim"], "head_dim": cc["head_dim"],
                "n_heads": cc["n_heads"], "n_kv_heads": cc["n_heads"],
                "qk_norm_eps": cc["qk_norm_eps"], "qk_norm": True, "use_biases": False,
                "norm_eps": cc["norm_eps"], "layer_scale": True, "layer_scale_init": 0.01,
                "decoder_transformer_lengths_str": cc["lengths"],
                "decoder_convs_kernels_str": cc["kernels"],
                "decoder_convs_strides_str": cc["strides"],
                "voice": {v: i for i, (v, _) in enumerate(c["voices"])}},
        },
    }


# ---------------------------------------------------------------------------
# Weights (§1.2), scaled so activations stay O(1)
# ---------------------------------------------------------------------------

def make_weights(c, rng):
    W = {}

    def lin(name, out, inp, gain=1.0):
        W[name] = rng.standard_normal((out, inp)) * gain / np.sqrt(inp)

    def norm(name, n):
        W[name] = 1.0 + 0.1 * rng.standard_normal(n)

    def block(prefix, dim, nh, nkv, hd, hidden):
        lin(prefix + "attention.wq.weight", nh * hd, dim)
        lin(prefix + "attention.wk.weight", nkv * hd, dim)
        lin(prefix + "attention.wv.weight", nkv * hd, dim)
        lin(prefix + "attention.wo.weight", dim, nh * hd)
        norm(prefix + "attention_norm.weight", dim)
        lin(prefix + "feed_forward.w1.weight", hidden, dim)
        lin(prefix + "feed_forward.w2.weight", dim, hidden)
        lin(prefix + "feed_forward.w3.weight", hidden, dim)
        norm(prefix + "ffn_norm.weight", dim)

    D, S, L, A = c["dim"], c["S"], c["L"], c["A"]
    # A. backbone
    W["mm_audio_embeddings.tok_embeddings.weight"] = rng.standard_normal((c["vocab_size"], D))
    for i in range(c["n_layers"]):
        block("layers.%d." % i, D, c["n_heads"], c["n_kv_heads"], c["head_dim"], c["hidden_dim"])
    norm("norm.weight", D)
    n_codebooks = 1 + A
    rows = pad128(S + 2 + A * (L + 2))
    # a frame embedding is a sum of 1+A rows: scale rows so the sum has RMS ~1
    W["mm_audio_embeddings.audio_codebook_embeddings.embeddings.weight"] = \
        rng.standard_normal((rows, D)) / np.sqrt(n_codebooks)
    # B. acoustic transformer
    ac = c["ac"]
    Da = ac["dim"]
    lin("acoustic_transformer.input_projection.weight", Da, A)
    lin("acoustic_transformer.time_projection.weight", Da, Da)
    lin("acoustic_transformer.llm_projection.weight", Da, D)
    for i in range(ac["n_layers"]):
        block("acoustic_transformer.layers.%d." % i, Da, ac["n_heads"], ac["n_kv_heads"],
              ac["head_dim"], ac["hidden_dim"])
    norm("acoustic_transformer.norm.weight", Da)
    sem = rng.standard_normal((pad128(S + 2), D)) / np.sqrt(D)
    # EMPTY (row 0) and the padding rows must be masked (§5.1): make them strong so
    # that an engine forgetting the mask picks them.
    sem[0] *= 3.0
    sem[S + 2:] *= 3.0
    W["acoustic_transformer.semantic_codebook_output.weight"] = sem
    lin("acoustic_transformer.acoustic_codebook_output.weight", A, Da, gain=0.45)
    # C. codec decoder
    cc = c["codec"]
    Dc, sd = cc["dim"], cc["semantic_dim"]
    usage = rng.uniform(1.0, 50.0, S)
    esum = rng.standard_normal((S, sd)) * usage[:, None]
    # one never-used cluster: usage 0 -> divided by max(0, 1e-5) (§6.1); its sum is
    # tiny so the centroid stays O(1)
    usage[S // 2] = 0.0
    esum[S // 2] = rng.standard_normal(sd) * 1e-5
    W["audio_tokenizer.quantizer.semantic_codebook.embedding_sum"] = esum
    W["audio_tokenizer.quantizer.semantic_codebook.cluster_usage"] = usage

    def wnorm(prefix, shape, gain):
        # v with a different scale per axis-0 index so that normalizing over the
        # wrong axis is visible; g sets each axis-0 slice's norm (§6.3)
        v = rng.standard_normal(shape) * np.exp(rng.uniform(-1.5, 1.5, (shape[0], 1, 1)))
        g = gain * rng.uniform(0.7, 1.3, (shape[0], 1, 1))
        W[prefix + ".conv.parametrizations.weight.original0"] = g
        W[prefix + ".conv.parametrizations.weight.original1"] = v

    kernels = [int(k) for k in cc["kernels"].split(",")]
    strides = [int(s) for s in cc["strides"].split(",")]
    lengths = [int(n) for n in cc["lengths"].split(",")]
    latent = sd + A
    for i, (k, s, n) in enumerate(zip(kernels, strides, lengths)):
        if i == 0:
            wnorm("audio_tokenizer.decoder_blocks.0", (Dc, latent, k), 1.0)
        else:
            # ConvTranspose1d [in, out, k]: an output sums k/s taps of every input
            # channel, each tap ~ g^2/(out*k) -> output variance g^2/s
            wnorm("audio_tokenizer.decoder_blocks.%d" % (2 * i), (Dc, Dc, k), np.sqrt(s))
        for j in range(n):
            p = "audio_tokenizer.decoder_blocks.%d.layers.%d." % (2 * i + 1, j)
            hd = cc["head_dim"] * cc["n_heads"]
            lin(p + "attention.wq.weight", hd, Dc)
            lin(p + "attention.wk.weight", hd, Dc)
            lin(p + "attention.wv.weight", hd, Dc)
            lin(p + "attention.wo.weight", Dc, hd)
            norm(p + "attention.q_norm.weight", hd)
            norm(p + "attention.k_norm.weight", hd)
            norm(p + "attention_norm.weight", Dc)
            norm(p + "ffn_norm.weight", Dc)
            lin(p + "feed_forward.w1.weight", cc["hidden_dim"], Dc)
            lin(p + "feed_forward.w2.weight", Dc, cc["hidden_dim"])
            lin(p + "feed_forward.w3.weight", cc["hidden_dim"], Dc)
            W[p + "attention_scale"] = rng.uniform(0.1, 1.0, Dc)
            W[p + "ffn_scale"] = rng.uniform(0.1, 1.0, Dc)
    wnorm("audio_tokenizer.output_proj", (cc["patch"], Dc, cc["patch_proj_kernel_size"]), 0.5)
    return W


def encoder_layout(cc):
    """The encoder's stages (§7) for codec args cc: the decoder mirrored (lengths,
    kernels and strides reversed: official 2,2,2,2 / 4,4,4,3 / 2,2,2,1), the
    attention window starting at attn_sliding_window_size and halving after each
    stride > 1 conv (official 16, 8, 4, 2).  Returns [(n_layers, window, kernel,
    stride)] per stage; block 2i is stage i's transformer, 2i+1 its conv."""
    kernels = [int(k) for k in cc["kernels"].split(",")][::-1]
    strides = [int(s) for s in cc["strides"].split(",")][::-1]
    lengths = [int(n) for n in cc["lengths"].split(",")][::-1]
    out, w = [], cc["window"]
    for n, k, s in zip(lengths, kernels, strides):
        out.append((n, w, k, s))
        if s > 1:
            w //= 2
    return out


def make_encoder_weights(c, rng):
    """The codec encoder's tensors (§7), scaled so that every stage's activations
    stay O(1) for input samples of amplitude ~0.3, the semantic part of the latent
    lands among many codebook rows and tanh of the acoustic part spreads over the
    FSQ levels."""
    W = {}
    cc = c["codec"]
    Dc, sd, A = cc["dim"], cc["semantic_dim"], c["A"]
    hd = cc["head_dim"] * cc["n_heads"]

    def lin(name, out, inp, gain=1.0):
        W[name] = rng.standard_normal((out, inp)) * gain / np.sqrt(inp)

    def norm(name, n):
        W[name] = 1.0 + 0.1 * rng.standard_normal(n)

    def wnorm(prefix, shape, gain):
        # per-axis-0 scales differ, so normalizing over the wrong axis shows (§6.3)
        v = rng.standard_normal(shape) * np.exp(rng.uniform(-1.5, 1.5, (shape[0], 1, 1)))
        g = gain * rng.uniform(0.7, 1.3, (shape[0], 1, 1))
        W[prefix + ".conv.parametrizations.weight.original0"] = g
        W[prefix + ".conv.parametrizations.weight.original1"] = v

    # input_proj: patch samples (amplitude ~0.3) -> dim
    wnorm("audio_tokenizer.input_proj", (Dc, cc["patch"], cc["patch_proj_kernel_size"]), ENC_IN_GAIN)
    stages = encoder_layout(cc)
    for i, (n, _, k, s) in enumerate(stages):
        for j in range(n):
            p = "audio_tokenizer.encoder_blocks.%d.layers.%d." % (2 * i, j)
            lin(p + "attention.wq.weight", hd, Dc)
            lin(p + "attention.wk.weight", hd, Dc)
            lin(p + "attention.wv.weight", hd, Dc)
            lin(p + "attention.wo.weight", Dc, hd)
            norm(p + "attention.q_norm.weight", hd)
            norm(p + "attention.k_norm.weight", hd)
            norm(p + "attention_norm.weight", Dc)
            norm(p + "ffn_norm.weight", Dc)
            lin(p + "feed_forward.w1.weight", cc["hidden_dim"], Dc)
            lin(p + "feed_forward.w2.weight", Dc, cc["hidden_dim"])
            lin(p + "feed_forward.w3.weight", cc["hidden_dim"], Dc)
            W[p + "attention_scale"] = rng.uniform(0.1, 1.0, Dc)
            W[p + "ffn_scale"] = rng.uniform(0.1, 1.0, Dc)
        last = i == len(stages) - 1
        out = sd + A if last else Dc
        wnorm("audio_tokenizer.encoder_blocks.%d" % (2 * i + 1), (out, Dc, k),
              ENC_OUT_GAIN if last else ENC_CONV_GAIN)
    return W


# gains of the encoder's convolutions (see make_encoder_weights)
ENC_IN_GAIN = 6.0
ENC_CONV_GAIN = 1.0
ENC_OUT_GAIN = 0.7


def write_model(name, outdir, seed=None):
    c = CONFIGS[name]
    rng = np.random.default_rng(c["seed"] if seed is None else seed)
    os.makedirs(os.path.join(outdir, "voice_embedding"), exist_ok=True)
    with open(os.path.join(outdir, "params.json"), "w") as f:
        json.dump(params_json(c), f, indent=4)
        f.write("\n")
    write_tekken(os.path.join(outdir, "tekken.json"), c)
    W = make_weights(c, rng)
    write_safetensors(os.path.join(outdir, "consolidated.safetensors"),
                      {k: to_bf16_bits(v) for k, v in W.items()})
    for i, (voice, n) in enumerate(c["voices"]):
        # rows live in the LLM input space (§1.4): same scale as token embeddings
        rows = to_bf16_bits(rng.standard_normal((n, c["dim"])))
        # first voice uses the official root folder name, others the file stem
        # (what torch.save does for user-made files)
        root = "voice_embed" if i == 0 else voice
        write_torch_zip(os.path.join(outdir, "voice_embedding", voice + ".pt"), root, rows)
    # the encoder (§7) from a generator of its own: the files above do not depend on it
    enc_rng = np.random.default_rng((c["seed"] if seed is None else seed) + 7000)
    E = make_encoder_weights(c, enc_rng)
    write_safetensors(os.path.join(outdir, "encoder.safetensors"),
                      {k: to_bf16_bits(v) for k, v in E.items()})
    return W, E


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("config", choices=sorted(CONFIGS))
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=None, help="override the config's seed")
    a = ap.parse_args()
    W, E = write_model(a.config, a.outdir, a.seed)
    print("%s: %d checkpoint tensors and %d encoder tensors written to %s"
          % (a.config, len(W), len(E), a.outdir))


if __name__ == "__main__":
    main()
