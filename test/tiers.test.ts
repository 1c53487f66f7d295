// The unit tier's rule holds because the guard is in place: checked here, in both tiers, by breaking it.
import { execFile, fork, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { metrics } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { describe, expect, it, vi } from 'vitest';
import { systemBinary, unitTier } from './helpers/binaries.js';
import { fakeNvidiaSmi } from './helpers/fake-nvidia-smi.js';
import { environment, leftBehind, UnitTierError } from './helpers/tier-guard.js';
import { FULL_ONLY, OWN_PROCESS } from './tiers.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const testFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? testFiles(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [relative(ROOT, join(dir, e.name))] : []));

describe('the two tiers', () => {
  it('leave to npm test only files that exist, each with what it needs', () => {
    const files = new Set(testFiles(join(ROOT, 'test')));
    for (const [file, needs] of Object.entries(FULL_ONLY)) {
      expect(files.has(file), `${file} (FULL_ONLY in test/tiers.ts) is a test file`).toBe(true);
      expect(needs.trim(), file).not.toBe('');
    }
    // This file runs in both tiers: the guard below is checked wherever tests run.
    expect(FULL_ONLY).not.toHaveProperty('test/tiers.test.ts');
    for (const [file, why] of Object.entries(OWN_PROCESS)) {
      expect(files.has(file) && !(file in FULL_ONLY), `${file} (OWN_PROCESS) is a unit-tier test file`).toBe(true);
      expect(why.trim(), file).not.toBe('');
    }
  });

  it('give a process of its own to every unit-tier file that reads what is printed (each notice is printed once per process)', () => {
    const reads = /process\.stderr\b|diag\.setLogger\(/;
    const sharing = testFiles(join(ROOT, 'test')).filter((f) => !(f in FULL_ONLY) && !(f in OWN_PROCESS));
    expect(sharing.length).toBeGreaterThan(0);
    expect(sharing.filter((f) => reads.test(readFileSync(join(ROOT, f), 'utf8'))), 'list them in OWN_PROCESS (test/tiers.ts)').toEqual([]);
    // The pattern finds what the listed files do.
    expect(Object.keys(OWN_PROCESS).filter((f) => /stderr|diag logger/.test(OWN_PROCESS[f])).every((f) => reads.test(readFileSync(join(ROOT, f), 'utf8')))).toBe(true);
  });

  it('see the process-wide state a file would leave to the next one in its process', () => {
    const before = environment();
    expect(leftBehind(before)).toEqual([]);
    process.env.INFERWATCH_TIER_PROBE = 'left';
    metrics.setGlobalMeterProvider(new MeterProvider());
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect(leftBehind(before)).toEqual(['OpenTelemetry globals (metrics)', 'environment variables (INFERWATCH_TIER_PROBE)', 'console.error', 'fake timers']);
    } finally {
      spy.mockRestore();
      vi.useRealTimers();
      metrics.disable();
      delete process.env.INFERWATCH_TIER_PROBE;
    }
    expect(leftBehind(before)).toEqual([]);
  });

  it('stop a unit-tier file that starts Node, whichever way it does', async () => {
    expect(() => spawnSync(process.execPath, ['-e', ''])).toThrow(UnitTierError);
    expect(() => spawn(process.execPath, ['-e', ''])).toThrow(UnitTierError);
    expect(() => fork(join(ROOT, 'scripts/log-line.mjs'))).toThrow(UnitTierError);
    // promisify(execFile) takes execFile's own promise form, which is guarded apart.
    await expect(promisify(execFile)(process.execPath, ['-e', ''])).rejects.toThrow(UnitTierError);
    expect(() => spawnSync('npm', ['--version'])).toThrow(/test\/tiers\.test\.ts starts `npm` \(spawnSync\)/);
  });

  it('let a unit-tier file run its fake nvidia-smi', () => {
    const fake = fakeNvidiaSmi();
    try {
      fake.script('echo fake');
      const run = spawnSync(join(fake.dir, 'nvidia-smi'), { encoding: 'utf8' });
      expect(run.stdout).toBe('fake\n');
    } finally {
      fake.remove();
    }
  });

  it('hand a unit-tier file a system binary in the full suite only, and then let it run', () => {
    const sh = systemBinary('sh', 'the tier guard letting a found binary run');
    if (unitTier()) {
      expect(sh).toBeUndefined();
      return;
    }
    expect(sh !== undefined && existsSync(sh)).toBe(true);
    expect(spawnSync(sh!, ['-c', 'echo found'], { encoding: 'utf8' }).stdout).toBe('found\n');
  });
});
