// openai_client.cjs — the official `openai` npm package against `voxtts serve`.
//
//   NODE_PATH=DIR/node_modules node openai_client.cjs BASE_URL API_KEY VOICE OUTDIR
//
// For each response_format: client.audio.speech.create, the body read whole
// (OUTDIR/whole.FMT), the same request read as a stream chunk by chunk from
// response.body (OUTDIR/stream.FMT), and with stream_format "sse" the events
// parsed from the streamed body, their base64 audio joined (OUTDIR/sse.FMT).
// Prints one line per case ("ok FMT MODE BYTES [CHUNKS|EVENTS]") and a final
// error line for a voice the server does not have; the shell checks the files.
const fs = require('fs');
const path = require('path');
const OpenAI = require('openai');

async function main() {
  const [baseURL, apiKey, voice, outdir] = process.argv.slice(2);
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60000 });
  const input = 'Hello from the official client.';
  for (const fmt of ['mp3', 'opus', 'flac', 'wav', 'pcm']) {
    const whole = await client.audio.speech.create({ model: 'tts-1', voice, input, response_format: fmt });
    const buf = Buffer.from(await whole.arrayBuffer());
    fs.writeFileSync(path.join(outdir, `whole.${fmt}`), buf);
    console.log(`ok ${fmt} whole ${buf.length} ${whole.headers.get('content-type')}`);

    const streamed = await client.audio.speech.create({ model: 'gpt-4o-mini-tts', voice, input, response_format: fmt, stream_format: 'audio' });
    const parts = [];
    for await (const chunk of streamed.body) parts.push(Buffer.from(chunk));
    const sbuf = Buffer.concat(parts);
    fs.writeFileSync(path.join(outdir, `stream.${fmt}`), sbuf);
    console.log(`ok ${fmt} stream ${sbuf.length} ${parts.length}`);

    const sse = await client.audio.speech.create({ model: 'tts-1', voice, input, response_format: fmt, stream_format: 'sse' });
    let text = '';
    const dec = new TextDecoder();
    for await (const chunk of sse.body) text += dec.decode(chunk, { stream: true });
    const audio = [];
    let done = null;
    for (const block of text.split('\n\n')) {
      const line = block.split('\n').find((l) => l.startsWith('data: '));
      if (!line) continue;
      const ev = JSON.parse(line.slice(6));
      if (ev.type === 'speech.audio.delta') audio.push(Buffer.from(ev.audio, 'base64'));
      else if (ev.type === 'speech.audio.done') done = ev;
    }
    if (!done || !done.usage || !(done.usage.output_tokens > 0)) throw new Error(`${fmt} sse: no speech.audio.done with usage`);
    const abuf = Buffer.concat(audio);
    fs.writeFileSync(path.join(outdir, `sse.${fmt}`), abuf);
    console.log(`ok ${fmt} sse ${abuf.length} ${audio.length}`);
  }
  try {
    await client.audio.speech.create({ model: 'tts-1', voice: 'no_such_voice', input: 'x' });
    console.log('unexpected success for an unknown voice');
  } catch (e) {
    console.log(`error ${e.status} ${e.error && e.error.param} ${e.error && e.error.code}`);
  }
}

main().catch((e) => {
  console.error(`openai_client: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
