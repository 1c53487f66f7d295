// Ports and child processes for the tests, the benchmarks and the dashboard lab: one way to find a
// free port and to start a program and wait until it says it is ready.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

/** A free TCP port on 127.0.0.1 (briefly bound, then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// What a child printed is kept for error messages and tests, up to this much (the tail).
const MAX_OUTPUT_CHARS = 1 << 20;

/**
 * Spawns `command args` and resolves once its stdout or stderr has printed `ready` (a substring or a
 * RegExp); rejects, and kills it, when it exits first or is not ready within `timeoutMs`.
 */
export function startChild(command, args, { ready, env = {}, timeoutMs = 20_000, cwd } = {}) {
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const isReady = () => (typeof ready === 'string' ? output.includes(ready) : ready.test(output));
  const started = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} was not ready in ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (d) => {
      output += d.toString();
      if (output.length > MAX_OUTPUT_CHARS) output = output.slice(-MAX_OUTPUT_CHARS);
      if (isReady()) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${command} ${args.join(' ')} exited (${code ?? signal}) before it was ready:\n${output}`));
    });
  });
  return started.then(() => ({ child, output: () => output }));
}
