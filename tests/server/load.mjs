// load.mjs — a bounded load test for `voxtts serve`: CLIENTS loops, each sending
// speech requests one after the other (voices, formats and stream formats in
// turn) for SECONDS, reading every response whole.
//
//   node load.mjs BASE_URL CLIENTS SECONDS VOICE[,VOICE...]
//
// Prints one JSON line: requests, ok, failed (any non-200, a short or empty
// body, a network error), audio bytes, latency percentiles (ms) and the
// first few failure reasons.
const [base, clients, seconds, voiceList] = process.argv.slice(2);
const voices = voiceList.split(',');
const formats = ['wav', 'mp3', 'pcm', 'flac', 'opus'];
const texts = ['Hello there.', 'A short sentence for the load test.', 'Numbers: one, two, three, four.'];
const end = Date.now() + Number(seconds) * 1000;
const lat = [];
let ok = 0, failed = 0, bytes = 0, n = 0;
const reasons = [];

async function one(i) {
  const body = {
    model: 'tts-1',
    input: texts[i % texts.length],
    voice: voices[i % voices.length],
    response_format: formats[i % formats.length],
    stream_format: i % 4 === 3 ? 'sse' : 'audio',
  };
  const t0 = Date.now();
  try {
    const r = await fetch(`${base}/v1/audio/speech`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const buf = Buffer.from(await r.arrayBuffer());
    lat.push(Date.now() - t0);
    if (r.status !== 200 || buf.length < 100) throw new Error(`status ${r.status}, ${buf.length} bytes`);
    if (body.stream_format === 'sse' && !buf.toString().includes('speech.audio.done')) throw new Error('sse without done');
    ok++;
    bytes += buf.length;
  } catch (e) {
    failed++;
    if (reasons.length < 5) reasons.push(String(e && e.message ? e.message : e));
  }
}

async function loop(c) {
  let i = c;
  while (Date.now() < end) {
    n++;
    await one(i);
    i += Number(clients);
  }
}

await Promise.all(Array.from({ length: Number(clients) }, (_, c) => loop(c)));
lat.sort((a, b) => a - b);
const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] : 0);
console.log(JSON.stringify({ requests: n, ok, failed, bytes, p50_ms: pct(50), p95_ms: pct(95), max_ms: pct(100), reasons }));
