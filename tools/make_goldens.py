#!/usr/bin/python3
"""make_goldens.py — writes the committed golden cases for the stage debug commands.

For each tiny checkpoint tests/models/<ckpt>/ (made by tools/tiny_model.py) this
writes tests/golden/<ckpt>/<case>/ following the stage contract:

  cmd              one line: arguments after `voxtts debug`, with the placeholders
                   {MODEL} (model dir), {CASE} (this case dir), {OUT} (output .npy)
  inputs           text.txt (no trailing newline), codes.npy, h.npy, x.npy, x0.npy,
                   audio.npy
  expected.txt     (tokenize, prompt) stdout, ids space separated
  expected.npy     (other stages) float32 or int32, compared by tests/golden/run.sh

Expected values come from tools/reference.py (float64 math on the BF16 weights).
Discrete outputs are made robust: frame cases are only accepted when every FSQ
level is >= 5e-3 away from a .5 rounding boundary and the semantic argmax wins by
>= 1e-3 (noise is re-drawn otherwise); encode cases when every FSQ level is >= 1e-3
from a .5 boundary and every frame's nearest codebook row is >= 1e-3 (relative,
squared distance) nearer than the second (the clip is re-drawn otherwise); the
margins are printed.  The encoder's tensors are in tests/models/<ckpt>/encoder.safetensors
(the checkpoint itself has none, like the official one); {MODELDIR} in cmd is
always that directory, even when the golden runner swaps {MODEL} for a GGUF.

Usage: /usr/bin/python3 tools/make_goldens.py [--root REPO_ROOT]
"""
import argparse
import base64
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402

MIN_MARGIN = 1e-3       # contract minimum for decisions (argmax gap, FSQ level vs .5)
FSQ_MARGIN = 5e-3       # what we actually demand of FSQ levels (5x the minimum)

TOKENIZE_TEXTS = {
    "tokenize_ascii": "Hello world. The quick brown fox jumps over the lazy dog!",
    "tokenize_multilingual": "Ça va?  Über die Brücke…\tcafé — 12,5 km\n\nnaïve  a  b   ",
    "tokenize_specials": "[AUDIO] <s> [BEGIN_AUDIO]\r\n日本語 🙂 नमस्ते مرحبا 2026!!",
}
PROMPT_TEXT = "Hello world. Where is the station?"
PREFILL_TEXTS = ["The weather is nice today.", "Bonjour, ça va? Très bien."]


def f32(a):
    return np.asarray(a, dtype=np.float32)


def t_string(t):
    """t as the float32 the C side parses, written with all significant digits."""
    return "%.9g" % np.float32(t)


class CaseWriter:
    def __init__(self, root, ckpt):
        self.dir = os.path.join(root, "tests", "golden", ckpt)
        self.cases = []

    def new(self, name, cmd):
        d = os.path.join(self.dir, name)
        os.makedirs(d)
        with open(os.path.join(d, "cmd"), "w") as f:
            f.write(cmd + "\n")
        self.cases.append(name)
        return d


def write_text(d, text):
    with open(os.path.join(d, "text.txt"), "w", encoding="utf-8", newline="") as f:
        f.write(text)


def write_ids(d, ids):
    with open(os.path.join(d, "expected.txt"), "w") as f:
        f.write(" ".join(str(i) for i in ids) + "\n")


def save_f32(path, a):
    np.save(path, np.ascontiguousarray(a, dtype="<f4"))


def save_i32(path, a):
    np.save(path, np.ascontiguousarray(a, dtype="<i4"))


def random_codes(rng, c, F):
    """F frames of valid offset codes: semantic 2..S+1, acoustic 2..L+1."""
    codes = np.empty((F, c.n_codebooks), dtype=np.int64)
    codes[:, 0] = rng.integers(2, c.S + 2, F)
    codes[:, 1:] = rng.integers(2, c.L + 2, (F, c.A))
    return codes


def fsq_margin(x, L):
    """Distance of each continuous FSQ level from the nearest .5 boundary (min)."""
    lev = ref.fsq_levels(x, L)
    return float(np.min(np.abs(lev - np.floor(lev) - 0.5)))


def robust_frame(m, h, seed0, cfg_alpha, n_steps, variants):
    """Draw x0 ~ N(0,1) (seeded) until the frame is robust (margins) and
    discriminating: each (alpha, steps) in `variants` (a wrong default an engine
    might use) must give different codes.  Returns x0, codes, diagnostics."""
    sem, sem_margin = ref.semantic_code(m, h)
    assert sem != 1, "frame case hidden state must not pick END"
    assert sem_margin >= MIN_MARGIN, "semantic margin %.3g too small" % sem_margin
    for seed in range(seed0, seed0 + 1000):
        x0 = f32(np.random.default_rng(seed).standard_normal(m.cfg.A)).astype(np.float64)
        x = ref.flow_match(m, h, x0, cfg_alpha, n_steps)
        margin = fsq_margin(x, m.cfg.L)
        codes = ref.frame(m, h, x0, cfg_alpha, n_steps)
        if margin >= FSQ_MARGIN and all(
                not np.array_equal(ref.frame(m, h, x0, a, n), codes) for a, n in variants):
            clamped = int(np.sum(np.abs(x) >= 1.0))
            return x0, codes, dict(seed=seed, sem_margin=sem_margin, fsq_margin=margin,
                                   clamped=clamped, distinct=len(set(codes[1:].tolist())))
    raise RuntimeError("no robust noise found")


def rel_diff(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def make_checkpoint(root, ckpt, report):
    mdir = os.path.join(root, "tests", "models", ckpt)
    m = ref.Model(mdir)
    c = m.cfg
    out = CaseWriter(root, ckpt)
    if os.path.isdir(out.dir):
        shutil.rmtree(out.dir)
    rng = np.random.default_rng(sum(map(ord, ckpt)))
    voices = c.voices
    log = report.append

    # --- tokenize (§2.4) --------------------------------------------------
    # an engine ignoring the rank cap (§1.3) would use every vocab entry:
    # at least one case must tell the two apart
    full = ref.Tekken(os.path.join(mdir, "tekken.json"))
    with open(os.path.join(mdir, "tekken.json"), encoding="utf-8") as f:
        for e in json.load(f)["vocab"]:
            full.ranks[base64.b64decode(e["token_bytes"])] = e["rank"]
    cap_tested = False
    for name, text in TOKENIZE_TEXTS.items():
        d = out.new(name, "tokenize -m {MODEL} -f {CASE}/text.txt")
        write_text(d, text)
        ids = m.tok.encode(text)
        write_ids(d, ids)
        cap_tested |= full.encode(text) != ids
    assert cap_tested, "no tokenize case depends on the vocabulary cap"

    # --- prompt (§2.1) ----------------------------------------------------
    for v in voices:
        d = out.new("prompt_" + v, "prompt -m {MODEL} -v %s -f {CASE}/text.txt" % v)
        write_text(d, PROMPT_TEXT)
        write_ids(d, ref.build_prompt(m, v, PROMPT_TEXT))

    # --- prefill (§3; seed step §8.1) -------------------------------------
    for v, text, seed_step in [(voices[0], PREFILL_TEXTS[0], False),
                               (voices[1], PREFILL_TEXTS[1], True)]:
        name = "prefill_" + v + ("_seed_step" if seed_step else "")
        d = out.new(name, "prefill -m {MODEL} -v %s -f {CASE}/text.txt --out {OUT}%s"
                    % (v, " --seed-step" if seed_step else ""))
        write_text(d, text)
        h, _ = ref.prefill(m, v, text, seed_step)
        save_f32(os.path.join(d, "expected.npy"), h)

    # --- decode (§4, teacher forced) --------------------------------------
    for v, text, seed_step in [(voices[0], PREFILL_TEXTS[0], False),
                               (voices[-1], PREFILL_TEXTS[1], True)]:
        name = "decode_f3" + ("_seed_step" if seed_step else "")
        d = out.new(name, "decode -m {MODEL} -v %s -f {CASE}/text.txt --codes {CASE}/codes.npy "
                    "--out {OUT}%s" % (v, " --seed-step" if seed_step else ""))
        write_text(d, text)
        codes = random_codes(rng, c, 3)
        save_i32(os.path.join(d, "codes.npy"), codes)
        save_f32(os.path.join(d, "expected.npy"), ref.decode(m, v, text, codes, seed_step))

    # Realistic conditioning: hidden states of actual prefills, rounded to f32
    # because that is what h.npy carries.
    h_a = f32(ref.prefill(m, voices[0], PREFILL_TEXTS[0])[0]).astype(np.float64)
    h_b = f32(ref.prefill(m, voices[1], PREFILL_TEXTS[1])[0]).astype(np.float64)

    # --- velocity (§5.2, §5.3) --------------------------------------------
    for name, h, t in [("velocity_t0", h_a, 0.0), ("velocity_t3of7", h_b, 3.0 / 7.0)]:
        ts = t_string(t)
        d = out.new(name, "velocity -m {MODEL} --h {CASE}/h.npy --x {CASE}/x.npy --t %s --out {OUT}" % ts)
        x = f32(rng.standard_normal(c.A)).astype(np.float64)
        save_f32(os.path.join(d, "h.npy"), h)
        save_f32(os.path.join(d, "x.npy"), x)
        tt = float(np.float32(ts))
        v = np.stack([ref.velocity(m, h, x, tt), ref.velocity(m, None, x, tt)])
        save_f32(os.path.join(d, "expected.npy"), v)

    # --- frame (§5.1, §5.4, §5.5) -----------------------------------------
    n_def = c.n_decoding_steps
    for name, h, alpha, steps, seed0, variants in [
            ("frame_default", h_a, None, None, 100, [(1.0, n_def), (1.2, n_def + 1)]),
            ("frame_cfg1_steps3", h_b, 1.0, 3, 200, [(1.2, 3), (1.0, n_def), (1.0, 4)])]:
        flags = ("" if alpha is None else " --cfg %s" % alpha) + \
                ("" if steps is None else " --steps %d" % steps)
        d = out.new(name, "frame -m {MODEL} --h {CASE}/h.npy --noise {CASE}/x0.npy --out {OUT}" + flags)
        x0, codes, info = robust_frame(m, h, seed0, 1.2 if alpha is None else alpha, steps, variants)
        save_f32(os.path.join(d, "h.npy"), h)
        save_f32(os.path.join(d, "x0.npy"), x0)
        save_i32(os.path.join(d, "expected.npy"), codes)
        log("%s/%s: sem=%d sem_margin=%.4f fsq_margin=%.4f (noise seed %d) clamped=%d/%d "
            "distinct_acoustic=%d" % (ckpt, name, codes[0], info["sem_margin"], info["fsq_margin"],
                                      info["seed"], info["clamped"], c.A, info["distinct"]))
        assert info["distinct"] >= 3 and info["clamped"] < c.A // 2
    # END wins: the acoustic codes must all be EMPTY+2 = 2.
    d = out.new("frame_end", "frame -m {MODEL} --h {CASE}/h.npy --noise {CASE}/x0.npy --out {OUT}")
    w1 = m.w["acoustic_transformer.semantic_codebook_output.weight"][1]
    h_end = f32(w1 / np.sqrt(np.mean(w1 * w1))).astype(np.float64)
    sem, margin = ref.semantic_code(m, h_end)
    assert sem == 1 and margin >= MIN_MARGIN
    save_f32(os.path.join(d, "h.npy"), h_end)
    save_f32(os.path.join(d, "x0.npy"), rng.standard_normal(c.A))
    save_i32(os.path.join(d, "expected.npy"), ref.frame(m, h_end, np.zeros(c.A)))
    log("%s/frame_end: END margin %.4f" % (ckpt, margin))

    # --- codec (§6) ---------------------------------------------------------
    short_reflect = c.patch_kernel - 1 >= np.prod(c.strides[1:])  # 1 frame shorter than the pad
    codes5 = random_codes(rng, c, 5)
    codes5[1, 0] = c.S // 2 + 2            # the cluster with usage 0 (max(., 1e-5), §6.1)
    codes5[2, 1:] = 2                      # acoustic extremes: level 0 ...
    codes5[3, 1:] = c.L + 1                # ... and level L-1
    codes3 = random_codes(rng, c, 3)
    # With few output samples per frame, one frame can be shorter than the output
    # conv's reflect pad: that F=1 case exercises VO's pad1d zero-extension (§6.3)
    # and is named so; a regular short case (F=2) is added beside it.
    cases = [("codec_f1_short_reflect" if short_reflect else "codec_f1", random_codes(rng, c, 1), ""),
             ("codec_f5", codes5, ""),
             ("codec_f3_alibi_press", codes3, " --alibi-press"),
             ("codec_f3_window_w_keys", codes3, " --window-w-keys")]
    if short_reflect:
        cases.insert(1, ("codec_f2", random_codes(rng, c, 2), ""))
    for name, codes, flags in cases:
        d = out.new(name, "codec -m {MODEL} --codes {CASE}/codes.npy --out {OUT}" + flags)
        save_i32(os.path.join(d, "codes.npy"), codes)
        wav = ref.codec_decode(m, codes, "alibi" in flags, "window" in flags)
        assert wav.shape == (len(codes) * c.samples_per_frame,)
        save_f32(os.path.join(d, "expected.npy"), wav)
        if flags:
            base = ref.codec_decode(m, codes)
            log("%s/%s: differs from the default codec by %.3g (relative)"
                % (ckpt, name, rel_diff(wav, base)))
            assert rel_diff(wav, base) > 1e-2
    if short_reflect:
        log("%s/codec_f1_short_reflect: output conv sees %d samples < pad %d + 1: VO pad1d zero-extension (§6.3)"
            % (ckpt, np.prod(c.strides[1:]), c.patch_kernel - 1))
    encoder_cases(root, ckpt, out, report)
    log("%s: %d cases: %s" % (ckpt, len(out.cases), " ".join(out.cases)))


def test_clip(rng, n, sr):
    """A speech-like test signal: three sines under a slow envelope plus noise
    (RMS ~0.1, peaks < 1)."""
    t = np.arange(n) / sr
    env = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(1, 4) * t + rng.uniform(0, 6))
    x = sum(0.15 * np.sin(2 * np.pi * f * t + rng.uniform(0, 6))
            for f in rng.uniform(80, sr / 8, 3)) * env
    return x + 0.05 * rng.standard_normal(n)


def encoder_cases(root, ckpt, out, report):
    """Codec encoder (§7) and voice rows (§4, §7 step 8) on clips whose lengths are
    multiples of neither the patch nor the frame: one no longer than k-1 patches
    (the input conv's reflect pad needs VO's pad1d zero-extension, §7), two with
    odd lengths at the stride-2 convs (their replicate right pad)."""
    mdir = os.path.join(root, "tests", "models", ckpt)
    m = ref.Model(mdir, os.path.join(mdir, "encoder.safetensors"))
    c = m.cfg
    log = report.append
    rng = np.random.default_rng(7 + sum(map(ord, ckpt)))
    sr = c.samples_per_frame * 12.5
    lengths = {"encode_short_reflect": c.patch * (c.patch_kernel - 1) - c.patch // 3,
               "encode_odd": c.samples_per_frame * 2 + c.patch + 17,
               "encode_long": c.samples_per_frame * 5 + c.patch * 3 + 101}
    all_codes = {}
    for name, n in lengths.items():
        assert n % c.patch and n % c.samples_per_frame
        for attempt in range(200):
            wave = f32(test_clip(rng, n, sr)).astype(np.float64)
            codes, sem_gap, fsq_gap = ref.encoder_quantize(m, ref.encoder_latent(m, wave))
            if sem_gap >= MIN_MARGIN and fsq_gap >= MIN_MARGIN:
                break
        else:
            raise RuntimeError("no robust clip found for " + name)
        assert codes.shape == (-(-n // c.samples_per_frame), c.n_codebooks)
        d = out.new(name, "encode -m {MODEL} --encoder {MODELDIR}/encoder.safetensors "
                    "--audio {CASE}/audio.npy --out {OUT}")
        save_f32(os.path.join(d, "audio.npy"), wave)
        save_i32(os.path.join(d, "expected.npy"), codes)
        all_codes[name] = codes
        log("%s/%s: %d samples (%d patches) -> %d frames, sem_gap=%.4f fsq_gap=%.4f (attempt %d)"
            % (ckpt, name, n, -(-n // c.patch), len(codes), sem_gap, fsq_gap, attempt))
    codes = np.concatenate(list(all_codes.values()))
    log("%s: encoder codes over the golden clips: %d distinct semantic of %d in %d frames; "
        "acoustic level histogram %s" % (ckpt, len(set(codes[:, 0].tolist())), c.S, len(codes),
                                         np.bincount(codes[:, 1:].ravel() - 2, minlength=c.L).tolist()))
    for name, src in [("voice_rows_f1", "encode_short_reflect"), ("voice_rows_odd", "encode_odd")]:
        d = out.new(name, "voice-rows -m {MODEL} --codes {CASE}/codes.npy --out {OUT}")
        save_i32(os.path.join(d, "codes.npy"), all_codes[src])
        rows = ref.voice_rows(m, all_codes[src])
        assert rows.shape == (len(all_codes[src]) + 1, c.dim)
        save_f32(os.path.join(d, "expected.npy"), rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("checkpoints", nargs="*", default=["tiny-a", "tiny-b"])
    a = ap.parse_args()
    report = []
    for ckpt in a.checkpoints:
        make_checkpoint(a.root, ckpt, report)
    print("\n".join(report))


if __name__ == "__main__":
    main()
