#!/usr/bin/python3
"""selfcheck_reference.py — structural checks of tools/reference.py and the tiny checkpoints.

The goldens are only as good as the reference, and the C engine cannot check it
yet, so this script asserts the properties docs/MODEL.md §11 lists (and a few more)
directly on the reference functions and on tests/models/tiny-{a,b}:
RoPE pairing, FSQ round trip over all levels, codebook offsets, transposed-conv
length and causality, codec output length and causality, window masks with W+1
keys, CFG alpha 1 = conditional field, prefill == token-by-token decoding, plus
file-format checks (tensor names/dtypes, torch zip/pickle, tekken rank cap).

Usage: /usr/bin/python3 tools/selfcheck_reference.py   (prints "selfcheck: N passed")
"""
import json
import os
import sys
import types
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference as ref  # noqa: E402
import tiny_model  # noqa: E402

ROOT = os.path.dirname(HERE)
passed = 0


def check(cond, what):
    global passed
    if not cond:
        raise AssertionError(what)
    passed += 1


def close(a, b, tol=1e-12):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) <= tol * max(1.0, np.max(np.abs(b)))


def real_cfg():
    """The official numbers (§1.1), as a Config-like object."""
    return types.SimpleNamespace(S=8192, L=21, A=36, strides=[1, 2, 2, 2], window=16,
                                 half_window=True)


def check_rope():
    rng = np.random.default_rng(0)
    hd, theta, pos = 8, 10000.0, 3
    x = rng.standard_normal((1, 1, hd))
    y = ref.rope(x, [pos], theta)[0, 0]
    for i in range(hd // 2):   # pair (2i, 2i+1) rotated by pos * theta^(-2i/hd)
        a = pos * theta ** (-2.0 * i / hd)
        x0, x1 = x[0, 0, 2 * i], x[0, 0, 2 * i + 1]
        check(close(y[2 * i:2 * i + 2], [x0 * np.cos(a) - x1 * np.sin(a),
                                         x0 * np.sin(a) + x1 * np.cos(a)]), "RoPE pair %d" % i)
    check(close(ref.rope(x, [0], theta), x), "RoPE at position 0 is the identity")
    # relative: <rope(q, m), rope(k, n)> depends only on m - n
    q, k = rng.standard_normal((1, 1, hd)), rng.standard_normal((1, 1, hd))
    d1 = np.sum(ref.rope(q, [7], theta) * ref.rope(k, [4], theta))
    d2 = np.sum(ref.rope(q, [13], theta) * ref.rope(k, [10], theta))
    check(abs(d1 - d2) < 1e-12, "RoPE scores depend on relative position only")


def check_fsq():
    for L in (21, 9, 2):
        q = np.arange(L)
        x = ref.fsq_dequantize(q, L)
        check(np.array_equal(ref.fsq_quantize(x, L), q + 2), "FSQ round trip L=%d" % L)
        check(x[0] == -1.0 and x[-1] == 1.0, "FSQ range L=%d" % L)
    check(np.array_equal(ref.fsq_quantize(np.array([-5.0, 5.0]), 21), [2, 22]), "FSQ clamps")
    # round half to even: with L = 3, x = -0.5 / 0.5 give levels 0.5 / 1.5 exactly -> 0 / 2
    check(np.array_equal(ref.fsq_quantize(np.array([-0.5, 0.5]), 3), [2, 4]),
          "FSQ rounds half to even")


def check_offsets():
    c = real_cfg()
    off = ref.codebook_offsets(c)
    check(off[0] == 0 and off[1] == 8194 and off[2] == 8217 and off[36] == 8999,
          "codebook offsets 0, 8194, 8217, ..., 8999 (§4)")
    check(ref.pad128(c.S + 2 + c.A * (c.L + 2)) == 9088, "audio table rows 9088")
    check(ref.pad128(c.S + 2) == 8320, "semantic head rows 8320")
    check(ref.codec_windows(c) == [2, 4, 8, 16], "codec windows 2,4,8,16 (§6.2)")
    check(close(ref.alibi_slopes(8), 2.0 ** -np.arange(8)), "ALiBi slopes [1 .. 1/128]")
    check(close(ref.alibi_slopes(8, press=True), 2.0 ** -np.arange(1, 9)), "press slopes")


def check_convs():
    rng = np.random.default_rng(1)
    x = np.arange(8.0)[None, :]
    check(np.array_equal(ref.pad_left(x, 2, "replicate")[0, :4], [0, 0, 0, 1]), "replicate pad")
    check(np.array_equal(ref.pad_left(x, 6, "reflect")[0, :8], [6, 5, 4, 3, 2, 1, 0, 1]),
          "reflect pad mirrors excluding the edge")
    check(np.array_equal(ref.pad_left(x[:, :4], 4, "reflect")[0], [0, 3, 2, 1, 0, 1, 2, 3]),
          "short reflect pad zero-extends like VO pad1d")
    for k, s in [(4, 2), (3, 1), (6, 3)]:
        W = rng.standard_normal((3, 5, k))       # [in, out, k]
        xin = rng.standard_normal((3, 6))
        y = ref.causal_conv_transpose1d(xin, W, s)
        check(y.shape == (5, 6 * s), "transposed conv length T*s (k=%d s=%d)" % (k, s))
        # direct definition: y[o, t*s+j] += sum_i W[i,o,j] x[i,t]
        full = np.zeros((5, 5 * s + k))
        for t in range(6):
            for j in range(k):
                full[:, t * s + j] += W[:, :, j].T @ xin[:, t]
        check(close(y, full[:, :6 * s]), "transposed conv = definition, right trim")
        x2 = xin.copy()
        x2[:, 4:] += 1.0
        y2 = ref.causal_conv_transpose1d(x2, W, s)
        check(close(y2[:, :4 * s], y[:, :4 * s]) and not close(y2, y),
              "transposed conv causal (k=%d s=%d)" % (k, s))
    W = rng.standard_normal((4, 3, 5))
    xin = rng.standard_normal((3, 9))
    y = ref.causal_conv1d(xin, W, "replicate")
    x2 = xin.copy()
    x2[:, 6:] -= 2.0
    check(close(ref.causal_conv1d(x2, W, "replicate")[:, :6], y[:, :6]), "conv1d causal")
    g, v = rng.uniform(0.5, 2, (4, 1, 1)), rng.standard_normal((4, 3, 5))
    Wn = ref.weight_norm(g, v)
    check(close(np.sqrt((Wn ** 2).sum(axis=(1, 2))), g[:, 0, 0]), "weight norm: slice norms = g")


def check_masks():
    for W in (2, 4, 16):
        T = 3 * W
        m = ref.window_mask(T, W)
        check(all(m[i].sum() == min(i, W) + 1 for i in range(T)), "window W=%d keeps W+1 keys" % W)
        check(not np.any(np.triu(m, 1)), "window mask causal")
        m2 = ref.window_mask(T, W, w_keys=True)
        check(all(m2[i].sum() == min(i + 1, W) for i in range(T)), "w_keys option keeps W keys")


def check_time_embedding():
    t0 = ref.time_embedding(0.0, 8)
    check(np.array_equal(t0, [1, 1, 1, 1, 0, 0, 0, 0]), "time embedding: cos first")
    t = ref.time_embedding(0.5, 8)
    inv = np.exp(-np.log(10000.0) * np.arange(4) / 4)
    check(close(t, np.concatenate([np.cos(0.5 * inv), np.sin(0.5 * inv)])), "time embedding values")


def check_files(name, m):
    d = os.path.join(ROOT, "tests", "models", name)
    c, cfgd = m.cfg, tiny_model.CONFIGS[name]
    with open(os.path.join(d, "consolidated.safetensors"), "rb") as f:
        hlen = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(hlen))
    header.pop("__metadata__", None)
    check(all(e["dtype"] == "BF16" for e in header.values()), name + ": all tensors BF16")
    n_codec = 2 + 2 * len(c.lengths) + 13 * sum(c.lengths) + 2
    check(len(header) == 9 * c.n_layers + 3 + 9 * c.ac_n_layers + 6 + n_codec,
          name + ": tensor count (§1.2 A+B+C formula)")
    check(not any("encoder" in k or "input_proj." in k.replace("input_projection", "")
                  for k in header), name + ": no encoder tensors")
    check(header["mm_audio_embeddings.audio_codebook_embeddings.embeddings.weight"]["shape"]
          == [ref.pad128(c.S + 2 + c.A * (c.L + 2)), c.dim], name + ": audio table rows")
    check(header["acoustic_transformer.semantic_codebook_output.weight"]["shape"]
          == [ref.pad128(c.S + 2), c.dim], name + ": semantic head rows")
    with open(os.path.join(d, "params.json")) as f:
        p = json.load(f)
    at = p["multimodal"]["audio_model_args"]["acoustic_transformer_args"]
    check("n_decoding_steps" not in at and "norm_eps" not in at, name + ": absent keys like the real file")
    check(c.samples_per_frame * 12.5 == p["multimodal"]["audio_tokenizer_args"]["sampling_rate"],
          name + ": samples per frame x 12.5 = sampling rate")
    for i, (voice, n) in enumerate(cfgd["voices"]):
        path = os.path.join(d, "voice_embedding", voice + ".pt")
        with zipfile.ZipFile(path) as z:
            check(z.testzip() is None, voice + ": CRCs")
            infos = z.infolist()
            check(all(zi.compress_type == zipfile.ZIP_STORED for zi in infos), voice + ": stored")
            root = "voice_embed" if i == 0 else voice
            check([zi.filename for zi in infos][0] == root + "/data.pkl", voice + ": root folder")
            data = z.getinfo(root + "/data/0")
            with open(path, "rb") as f:
                f.seek(data.header_offset + 26)
                nl, xl = np.frombuffer(f.read(4), dtype="<u2")
            check((data.header_offset + 30 + nl + xl) % 64 == 0, voice + ": data/0 64-byte aligned")
        check(m.voices[voice].shape == (n, c.dim), voice + ": shape")
    check(len(tiny_model.torch_tensor_pickle(218, 3072)) == 165, "data.pkl is 165 bytes at real size")
    with open(os.path.join(d, "tekken.json"), encoding="utf-8") as f:
        t = json.load(f)
    check(len(t["vocab"]) == t["config"]["num_vocab_tokens"] >
          t["config"]["default_vocab_size"] - 1000, name + ": vocab has ignored extra ranks")
    check(len(m.tok.ranks) == c.vocab_size - 1000, name + ": ranks capped")
    check(max(m.tok.encode("Hello world. Über café 🙂")) < c.vocab_size, name + ": ids < vocab")
    sp = {e["rank"]: e["token_str"] for e in t["special_tokens"]}
    check(sp[35] == "[REPEAT_AUDIO_TEXT]" and sp[36] == "[NEXT_AUDIO_TEXT]" and len(sp) == 1000,
          name + ": special tokens")


def check_tokenizer(m):
    tk = m.tok
    check(tk.pieces("a  b") == ["a", " ", " b"], "whitespace run hands its last char on (§2.4)")
    check(tk.pieces("x 1234") == ["x", " ", "1", "2", "3", "4"], "digits are single pieces")
    check(tk.pieces("Hi \u201cyou\u201d\u2013ok") == ["Hi", " \u201c", "you", "\u201d\u2013", "ok"],
          "curly quotes / en dash are punctuation")
    check(tk.encode("[AUDIO]") != [tk.special_id("[AUDIO]")], "special strings are plain text")
    for s in ["Hello world.", "Ça va?", "日本語 🙂"]:   # ids decode back to the text
        inv = {r: b for b, r in tk.ranks.items()}
        check(b"".join(inv[i - 1000] for i in tk.encode(s)).decode() == s, "round trip " + s)


def check_model(name):
    m = ref.Model(os.path.join(ROOT, "tests", "models", name))
    c = m.cfg
    rng = np.random.default_rng(2)
    check_files(name, m)
    check_tokenizer(m)
    voice, text = c.voices[0], "Hello world."
    ids = ref.build_prompt(m, voice, text)
    n = m.tok.voice_num_tokens[voice]
    check(ids[:2] == [1, 25] and ids[2:2 + n] == [24] * n and ids[2 + n] == 36
          and ids[-2:] == [35, 25] and len(ids) == n + len(m.tok.encode(text)) + 5,
          name + ": prompt layout (§2.1)")
    # prefill == feeding the prompt one token at a time through the KV cache
    E = ref.prompt_embeddings(m, ids, voice)
    check(close(E[2:2 + n], m.voices[voice]), name + ": voice rows spliced in order")
    h, bb = ref.prefill(m, voice, text)
    step = ref.Backbone(m)
    hs = [step.forward(E[i:i + 1])[0] for i in range(len(ids))]
    check(close(hs[-1], h, 1e-10), name + ": prefill == token-by-token decode")
    # decode rows == one long forward over prompt + frame embeddings
    frames = np.column_stack([rng.integers(2, c.S + 2, 3), rng.integers(2, c.L + 2, (3, c.A))])
    rows = ref.decode(m, voice, text, frames)
    allin = np.concatenate([E] + [ref.embed_frame(m, f)[None] for f in frames])
    check(close(ref.Backbone(m).forward(allin)[-4:], rows, 1e-10), name + ": decode positions P+f")
    seed_rows = ref.decode(m, voice, text, frames, seed_step=True)
    check(not close(seed_rows[0], rows[0], 1e-3), name + ": seed step changes row 0")
    # semantic mask
    lg = ref.semantic_logits(m, h)
    check(lg[0] == -np.inf and np.all(lg[c.S + 2:] == -np.inf) and np.isfinite(lg[1]),
          name + ": semantic mask keeps END, drops EMPTY and padding")
    # CFG alpha 1 = purely conditional Euler
    x0 = rng.standard_normal(c.A)
    x = x0.copy()
    for i in range(4):
        x = x + ref.velocity(m, h, x, float(np.float32(i) / np.float32(4))) / 4
    check(close(ref.flow_match(m, h, x0, 1.0, 4), x), name + ": cfg alpha 1 => conditional field")
    check(not close(ref.flow_match(m, h, x0, 1.2, 4), x, 1e-3), name + ": cfg 1.2 differs")
    check(not close(ref.velocity(m, h, x0, 0.0), ref.velocity(m, None, x0, 0.0), 1e-3),
          name + ": conditioning matters")
    # codec: output length and frame-level causality (changing the last frame
    # leaves earlier frames' samples untouched)
    F = 4
    codes = np.column_stack([rng.integers(2, c.S + 2, F), rng.integers(2, c.L + 2, (F, c.A))])
    wav = ref.codec_decode(m, codes)
    check(wav.shape == (F * c.samples_per_frame,), name + ": codec length F*samples_per_frame")
    codes2 = codes.copy()
    codes2[-1] = [2 + (codes[-1, 0] - 1) % c.S] + list(2 + (codes[-1, 1:] - 1) % c.L)
    wav2 = ref.codec_decode(m, codes2)
    cut = (F - 1) * c.samples_per_frame
    check(close(wav2[:cut], wav[:cut]) and not close(wav2[cut:], wav[cut:], 1e-3),
          name + ": codec causal at frame level")
    check(np.isfinite(wav).all() and np.abs(wav).max() < 50, name + ": codec well conditioned")


def main():
    check_rope()
    check_fsq()
    check_offsets()
    check_convs()
    check_masks()
    check_time_embedding()
    for name in ("tiny-a", "tiny-b"):
        check_model(name)
    print("selfcheck: %d passed" % passed)


if __name__ == "__main__":
    main()
