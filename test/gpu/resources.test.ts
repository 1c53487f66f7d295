import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGpuCollector, type GpuCollector } from '@inferwatch/gpu';
import { collect } from '../helpers/collect.js';
import { FIXTURES, fakeNvidiaSmi } from '../helpers/fake-nvidia-smi.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * Every resource a poll uses has a bound: bytes written and held (stdout, stderr), processes (the
 * whole tree nvidia-smi forks, on timeout, on shutdown, when the host dies), the temporary folder,
 * and the number of GPUs read. Each case runs a fake nvidia-smi that misbehaves in one way.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHUNK = 64 * 1024;

let fake: ReturnType<typeof fakeNvidiaSmi>;
let gpu: GpuCollector | undefined;
let tmp: string;
const saved = { PATH: process.env.PATH, TMPDIR: process.env.TMPDIR };
beforeEach(() => {
  fake = fakeNvidiaSmi();
  // The poller's folders go here, so the test sees exactly its own.
  tmp = mkdtempSync(join(tmpdir(), 'gpu-resources-'));
  process.env.PATH = `${fake.dir}:${saved.PATH}`;
  process.env.TMPDIR = tmp;
});
afterEach(async () => {
  await gpu?.shutdown();
  gpu = undefined;
  process.env.PATH = saved.PATH;
  if (saved.TMPDIR === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = saved.TMPDIR;
  for (const pid of pidsIn(fake.dir)) kill(pid);
  fake.remove();
  rmSync(tmp, { recursive: true, force: true });
});

/** Running, as opposed to gone or a zombie (killed, with no init in this container to reap it). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
function kill(pid: number) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone.
  }
}
/** The pids the fake wrote (`*.pid` in its folder). */
function pidsIn(dir: string): number[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.pid'))
    .map((f) => Number(readFileSync(join(dir, f), 'utf8')))
    .filter((pid) => pid > 0);
}
const pollerFolders = () => readdirSync(tmp).filter((f) => f.startsWith('inferwatch-nvidia-smi-'));
async function errors() {
  const m = await collect(gpu!.producer);
  return Object.fromEntries(m.metric('inferwatch.gpu.poll.errors')!.dataPoints.filter((p) => p.value !== 0).map((p) => [p.attributes['error.type'], p.value]));
}
/** A fake that writes `total` bytes in 64 KiB chunks to `fd`, counting each finished chunk in `written`. */
const writer = (total: number, fd: 1 | 2) =>
  `i=0; while [ $i -lt ${total / CHUNK} ]; do head -c ${CHUNK} /dev/zero >&${fd} || exit 1; i=$((i+1)); echo $i > "${fake.dir}/written"; done`;
const written = () => Number(readFileSync(join(fake.dir, 'written'), 'utf8')) * CHUNK;
/** A hung nvidia-smi with a child of its own, both pids written down. */
const hungWithChild = () => `sleep 60 & echo $! > "${fake.dir}/child.pid"; sleep 60`;

describe('the GPU poller’s resources', () => {
  it('stops reading stdout at maxOutputBytes: never more written than the cap, and the writer is cut off', async () => {
    const cap = 1024 * 1024;
    fake.script(writer(20 * 1024 * 1024, 1));
    const lines: string[] = [];
    gpu = createGpuCollector({ intervalMs: 60_000, maxOutputBytes: cap, log: (l) => lines.push(l) });
    await gpu.poll();
    await gpu.poll();
    expect(await errors()).toEqual({ output_too_large: 2 });
    // What the fake managed to write: the cap, plus what the pipe buffers held when the reader stopped.
    expect(written()).toBeLessThanOrEqual(cap + 4 * CHUNK);
    const [folder] = pollerFolders();
    expect(statSync(join(tmp, folder, 'out')).size).toBe(cap + 1);
    // Said once, however often it happens; the counter says the rest.
    expect(lines.filter((l) => l.includes('output_too_large'))).toHaveLength(1);
  });

  it('caps stderr: a flood of it is cut off at 64 KiB, never held whole', async () => {
    fake.script(writer(16 * 1024 * 1024, 2));
    gpu = createGpuCollector({ intervalMs: 60_000 });
    await gpu.poll();
    expect(Object.values(await errors())).toEqual([1]);
    expect(written()).toBeLessThanOrEqual(64 * 1024 + 4 * CHUNK);
    const [folder] = pollerFolders();
    expect(statSync(join(tmp, folder, 'err')).size).toBeLessThanOrEqual(64 * 1024);
  });

  it('kills the whole tree of a hung poll on timeout, children of nvidia-smi included', async () => {
    fake.script(hungWithChild());
    gpu = createGpuCollector({ intervalMs: 60_000, timeoutMs: 300 });
    await gpu.poll();
    expect(await errors()).toEqual({ timeout: 1 });
    const pids = pidsIn(fake.dir);
    expect(pids).toHaveLength(2);
    await waitUntil(() => pids.every((pid) => !running(pid)), { what: `the hung tree (pids ${pids}) to be gone` });
  });

  it('on shutdown, kills a poll in flight with its children and removes the temporary folder', async () => {
    fake.script(hungWithChild());
    gpu = createGpuCollector({ intervalMs: 60_000, timeoutMs: 30_000 });
    void gpu.poll();
    await waitUntil(() => existsSync(join(fake.dir, 'child.pid')), { what: 'the fake and its child to start' });
    expect(pollerFolders()).toHaveLength(1);
    const pids = pidsIn(fake.dir);
    await gpu.shutdown();
    gpu = undefined;
    await waitUntil(() => pids.every((pid) => !running(pid)), { what: `the tree (pids ${pids}) to be gone` });
    await waitUntil(() => pollerFolders().length === 0, { what: 'the temporary folder to be removed' });
  });

  it('after the poll worker crashes, its shell removes the folder and ends the tree', async () => {
    fake.script(hungWithChild());
    gpu = createGpuCollector({ intervalMs: 60_000, timeoutMs: 30_000 });
    void gpu.poll();
    await waitUntil(() => existsSync(join(fake.dir, 'child.pid')), { what: 'the fake and its child to start' });
    const pids = pidsIn(fake.dir);
    // The worker ends abruptly, as it would on a fatal error: nothing of ours runs in it any more.
    await (gpu as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await waitUntil(() => pids.every((pid) => !running(pid)), { what: `the tree (pids ${pids}) to be gone` });
    await waitUntil(() => pollerFolders().length === 0, { what: 'the temporary folder to be removed' });
  });

  it('when the host process dies (SIGKILL), nvidia-smi and its children go too, and the folder with them', async () => {
    fake.script(hungWithChild());
    const script = `import('@inferwatch/gpu').then(({ createGpuCollector }) => { createGpuCollector({ intervalMs: 60_000, timeoutMs: 60_000 }); setInterval(() => {}, 1000); });`;
    const host = spawn(process.execPath, ['-e', script], { cwd: ROOT, env: { ...process.env }, stdio: 'ignore' });
    try {
      await waitUntil(() => existsSync(join(fake.dir, 'child.pid')), { what: 'the fake and its child to start' });
      expect(pollerFolders()).toHaveLength(1);
      const pids = pidsIn(fake.dir);
      host.kill('SIGKILL');
      await waitUntil(() => pids.every((pid) => !running(pid)), { what: `the tree (pids ${pids}) to be gone` });
      await waitUntil(() => pollerFolders().length === 0, { what: 'the temporary folder to be removed' });
    } finally {
      host.kill('SIGKILL');
    }
  });

  it('reads at most maxGpus GPUs (default 64) and says once that there were more', async () => {
    const xml = readFileSync(join(FIXTURES, 'tesla-p100-driver510.xml'), 'utf8');
    const start = xml.indexOf('<gpu ');
    const end = xml.lastIndexOf('</gpu>') + '</gpu>'.length;
    const one = xml.slice(start, end);
    const many = Array.from({ length: 100 }, (_, i) => one.replace(/<uuid>[^<]*<\/uuid>/, `<uuid>GPU-${i}</uuid>`)).join('\n');
    writeFileSync(join(fake.dir, 'many.xml'), xml.slice(0, start) + many + xml.slice(end));
    fake.script(`cat "${fake.dir}/many.xml"`);
    const lines: string[] = [];
    gpu = createGpuCollector({ intervalMs: 60_000, log: (l) => lines.push(l) });
    await gpu.poll();
    await gpu.poll();
    expect(gpu.gpus).toHaveLength(64);
    expect(gpu.gpus.map((g) => g.uuid).slice(0, 2)).toEqual(['GPU-0', 'GPU-1']);
    expect(lines).toEqual(['inferwatch: nvidia-smi lists 100 GPUs; only the first 64 are read (maxGpus)']);
    await gpu.shutdown();
    gpu = createGpuCollector({ intervalMs: 60_000, maxGpus: 3, log: () => {} });
    await gpu.poll();
    expect(gpu.gpus.map((g) => g.uuid)).toEqual(['GPU-0', 'GPU-1', 'GPU-2']);
  });

  it('takes hostile options without throwing, and still polls and stops', async () => {
    fake.fixture('tesla-p100-driver510.xml');
    const throwing = Object.defineProperty({}, 'intervalMs', { get: () => { throw new Error('getter'); }, enumerable: true });
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    for (const options of [null, 42, [], throwing, revoked.proxy, { intervalMs: NaN, timeoutMs: -1, maxGpus: -3, maxOutputBytes: Infinity, pids: 'x', log: 5 }]) {
      const collector = createGpuCollector(options as never);
      await collector.poll();
      expect(collector.gpus.map((g) => g.name)).toEqual(['Tesla P100-PCIE-16GB']);
      await collector.shutdown();
    }
  });
});
