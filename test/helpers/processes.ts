import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, startChild } from '../../scripts/lib/processes.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Started {
  url: string;
  port: number;
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/** Starts a Node program from the repo and resolves once it prints `ready` (a substring of its output). */
export async function startProcess(script: string, args: string[], ready: string, env: Record<string, string> = {}): Promise<Started> {
  const port = await freePort();
  const { child, output } = await startChild(process.execPath, [`${ROOT}${script}`, '--port', String(port), ...args], { ready, env, timeoutMs: 15_000 });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    output,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The simulated engine; `args` are its flags (e.g. --decode-base-ms 5). */
export const startEngine = (args: string[] = []) => startProcess('examples/engine-sim/server.mjs', ['--log-interval-ms', '600000', ...args], 'simulated engine serving');

/** A Prometheus exposition's sample value, or undefined. */
export function sample(text: string, line: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}
