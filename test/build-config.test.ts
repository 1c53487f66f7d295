import { afterEach, describe, expect, it, vi } from 'vitest';

// The demo builds JavaScript only (INFERWATCH_JS_ONLY=1, scripts/ensure-built.mjs): a package whose build
// still made declarations there would fail on a fresh clone, its dependencies having none to read.
const PACKAGES = ['sdk', 'gpu', 'http', 'client', 'loadgen', 'llama-cpp'];

interface Entry {
  entry?: unknown;
  dts?: unknown;
}

async function builds(name: string): Promise<Entry[]> {
  vi.resetModules();
  const { default: config } = (await import(`../packages/${name}/tsup.config.ts`)) as { default: Entry | Entry[] };
  return Array.isArray(config) ? config : [config];
}

const library = (entries: Entry[]) => entries.filter((e) => JSON.stringify(e.entry).includes('src/index.ts'));

afterEach(() => {
  delete process.env.INFERWATCH_JS_ONLY;
});

describe('each package’s build', () => {
  it.each(PACKAGES)('%s makes declarations, and none when the demo asks for JavaScript only', async (name) => {
    delete process.env.INFERWATCH_JS_ONLY;
    const full = await builds(name);
    expect(library(full)).toHaveLength(1);
    expect(library(full)[0].dts).toBe(true);

    process.env.INFERWATCH_JS_ONLY = '1';
    for (const entry of await builds(name)) expect(entry.dts ?? false, JSON.stringify(entry.entry)).toBe(false);
  });
});
