import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allowedPrograms } from './binaries.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/nvidia-smi/', import.meta.url));

/**
 * A fake `nvidia-smi` in a fresh folder, to put first on PATH. Its behaviour is read from a file at
 * every run, so a test can switch it between polls without restarting the collector.
 */
export function fakeNvidiaSmi() {
  const dir = mkdtempSync(join(tmpdir(), 'fake-nvidia-smi-'));
  const behaviour = join(dir, 'behaviour.sh');
  writeFileSync(join(dir, 'nvidia-smi'), `#!/bin/sh\necho $$ > "${dir}/last.pid"\n. "${behaviour}"\n`);
  chmodSync(join(dir, 'nvidia-smi'), 0o755);
  // A shell script of the test's own, which the unit tier may run (test/helpers/tier-guard.ts).
  allowedPrograms.add('nvidia-smi').add(join(dir, 'nvidia-smi'));
  const set = (script: string) => writeFileSync(behaviour, `${script}\n`);
  return {
    dir,
    pidFile: join(dir, 'last.pid'),
    /** Print a captured output from test/fixtures/nvidia-smi. */
    fixture: (name: string) => set(`cat "${FIXTURES}${name}"`),
    /** Any shell script. */
    script: set,
    remove: () => {
      allowedPrograms.delete('nvidia-smi');
      allowedPrograms.delete(join(dir, 'nvidia-smi'));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
