import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../helpers/wait.js';
import { sample, startProcess, type Started } from '../helpers/processes.js';

// Several readers of one app's /metrics at once, as production has them: two Prometheus servers (an HA
// pair) scraping at different intervals, and the live page open. The app blocks its loop 200 ms every
// 2 s. Each reader must see every block in the event-loop delay it reads: its windowed max covers what
// happened since its own previous scrape, whatever the others read in between.
const BLOCK_MS = 200;
const EVERY_MS = 2000;
const BLOCKS = 5;
const PROBE_MS = 10;

interface Scrape {
  /** When the request left, epoch ms. One that left after a block began was collected after it ended: the app's loop could not answer it sooner. */
  sent: number;
  max: number;
  /** Probe ticks later than 125 ms so far: the cumulative histogram's count above its 2^-3 bound. */
  late: number;
}

/** Scrapes `url` as a reader with its own user agent every `intervalMs`, until `until()` says stop. */
async function reader(url: string, agent: string, intervalMs: number, until: () => boolean): Promise<Scrape[]> {
  const scrapes: Scrape[] = [];
  while (!until()) {
    const sent = Date.now();
    const text = await (await fetch(url, { headers: { 'user-agent': agent, accept: 'text/plain' } })).text();
    const count = sample(text, 'inferwatch_eventloop_delay_count')!;
    const atOrBelow = sample(text, 'inferwatch_eventloop_delay_bucket{le="0.125"}')!;
    scrapes.push({ sent, max: sample(text, 'nodejs_eventloop_delay_max')!, late: count - atOrBelow });
    await sleep(intervalMs);
  }
  return scrapes;
}

describe('event-loop delay with several readers', () => {
  let app: Started;
  let blocks: { start: number; end: number }[];
  const scrapes: Record<string, Scrape[]> = {};
  beforeAll(async () => {
    app = await startProcess('test/truth/blocked-app.mjs', ['--block-ms', String(BLOCK_MS), '--every-ms', String(EVERY_MS), '--blocks', String(BLOCKS)], 'blocked app on');
    const done = () => app.output().split('\n').filter((l) => l.startsWith('{')).length >= BLOCKS;
    const finished = async () => {
      // One more interval after the last block, so every reader scrapes once after it.
      while (!done()) await sleep(100);
      await sleep(2500);
    };
    let over = false;
    const stop = finished().then(() => (over = true));
    const [a, b] = await Promise.all([
      reader(`${app.url}/metrics`, 'Prometheus/2.42.0 replica-a', 700, () => over),
      reader(`${app.url}/metrics`, 'Prometheus/2.42.0 replica-b', 1900, () => over),
      // The live page, polling its snapshot every 300 ms.
      (async () => {
        while (!over) {
          await (await fetch(`${app.url}/dashboard/snapshot`)).arrayBuffer();
          await sleep(300);
        }
      })(),
      stop,
    ]);
    scrapes.a = a;
    scrapes.b = b;
    blocks = app.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  }, 60_000);
  afterAll(() => app?.stop());

  it.each(['a', 'b'])('reader %s sees every block in the first scrape after it, at the block’s length within a probe interval', (name) => {
    expect(blocks).toHaveLength(BLOCKS);
    for (const block of blocks) {
      const next = scrapes[name].find((s) => s.sent >= block.start);
      expect(next, `a scrape after the block from ${block.start}`).toBeDefined();
      const measured = block.end - block.start;
      console.log(`reader ${name}: block of ${measured} ms read as ${(next!.max * 1000).toFixed(1)} ms`);
      expect(next!.max * 1000).toBeGreaterThanOrEqual(measured - PROBE_MS);
    }
  });

  it('counts every block in the cumulative histogram, the same for every reader', () => {
    const lastA = scrapes.a.at(-1)!;
    const lastB = scrapes.b.at(-1)!;
    expect(lastA.late).toBeGreaterThanOrEqual(BLOCKS);
    // Cumulative: what one reader sees cannot depend on the other's reads (both scraped after the last block).
    expect(lastA.late).toBe(lastB.late);
  });
});
