import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GPU_GAUGES, POLL_ERRORS } from '../packages/gpu/src/catalog.js';
import { ATTR_ERROR_TYPE, ATTR_MODEL, ATTR_OPERATION, ATTR_PROVIDER, CLIENT_HISTOGRAMS, COUNTERS, GAUGES, HISTOGRAMS, RUNTIME_HISTOGRAMS } from '../packages/sdk/src/record/catalog.js';
import { DEFAULT_MAX_VALUES, MAX_REQUEST_ATTRIBUTES } from '../packages/sdk/src/record/request-attributes.js';
import { SPAN_ATTRIBUTES, SPAN_EVENTS } from '../packages/sdk/src/trace/spans.js';

const doc = readFileSync(new URL('../docs/metrics.md', import.meta.url), 'utf8');
const prometheusName = (name: string, counter: boolean) => name.replace(/\./g, '_') + (counter ? '_total' : '');

describe('docs/metrics.md', () => {
  const all = [
    ...Object.values(HISTOGRAMS).map((m) => ({ ...m, counter: false })),
    ...Object.values(CLIENT_HISTOGRAMS).map((m) => ({ ...m, counter: false })),
    ...Object.values(RUNTIME_HISTOGRAMS).map((m) => ({ ...m, counter: false })),
    ...Object.values(COUNTERS).map((m) => ({ ...m, counter: true })),
    ...Object.values(GAUGES).map((m) => ({ ...m, counter: false })),
    ...Object.values(GPU_GAUGES).map((m) => ({ ...m, counter: false })),
    { ...POLL_ERRORS, counter: true },
  ];
  it.each(all)('documents $name with its Prometheus name and unit', ({ name, unit, counter }) => {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
    expect(row, `no table row for ${name}`).toBeDefined();
    expect(row).toContain(`\`${prometheusName(name, counter)}\``);
    expect(row).toContain(`| ${unit} |`);
  });

  it.each([...Object.values(HISTOGRAMS), ...Object.values(CLIENT_HISTOGRAMS), ...Object.values(RUNTIME_HISTOGRAMS)])('lists the default buckets of $name', ({ name, buckets }) => {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${name}\` |`))!;
    if (row.includes('as queue')) return;
    const listed = buckets.join(', ');
    expect(row.includes(listed) || row.includes(`${buckets[0]}, ${buckets[1]}, then`), name).toBe(true);
  });
});

describe('docs/metrics.md tables', () => {
  // Details belong in the prose under a table: a cell holds a sentence or two (or a bucket list).
  it('keep every cell short', () => {
    const long = doc
      .split('\n')
      .filter((line) => line.startsWith('|'))
      .flatMap((line) => line.split('|').slice(1, -1))
      .filter((cell) => cell.trim().length > 200);
    expect(long).toEqual([]);
  });
});

describe('docs/metrics.md on request attributes', () => {
  it('states the limits the SDK applies', () => {
    expect(doc).toContain(`(default ${DEFAULT_MAX_VALUES}, first come first served)`);
    expect(doc).toContain(`At most ${MAX_REQUEST_ATTRIBUTES} attributes per recorder`);
  });
});

describe('docs/tracing.md', () => {
  const tracing = readFileSync(new URL('../docs/tracing.md', import.meta.url), 'utf8');
  const names = [...Object.values(SPAN_ATTRIBUTES), ...Object.values(SPAN_EVENTS), ATTR_ERROR_TYPE, ATTR_MODEL, ATTR_OPERATION, ATTR_PROVIDER];
  it.each(names)('has a table row for %s', (name) => {
    expect(tracing.split('\n').some((line) => line.startsWith(`| \`${name}\` |`))).toBe(true);
  });
});
