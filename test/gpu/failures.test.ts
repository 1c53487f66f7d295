import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGpuCollector, type GpuCollector } from '@inferwatch/gpu';
import { collect } from '../helpers/collect.js';
import { FIXTURES, fakeNvidiaSmi } from '../helpers/fake-nvidia-smi.js';
import { sleep, waitUntil } from '../helpers/wait.js';

let fake: ReturnType<typeof fakeNvidiaSmi>;
let gpu: GpuCollector | undefined;
const savedPath = process.env.PATH;
beforeEach(() => {
  fake = fakeNvidiaSmi();
  process.env.PATH = `${fake.dir}:${savedPath}`;
});
afterEach(async () => {
  await gpu?.shutdown();
  gpu = undefined;
  process.env.PATH = savedPath;
  fake.remove();
});

async function errors() {
  const m = await collect(gpu!.producer);
  return Object.fromEntries(m.metric('inferwatch.gpu.poll.errors')!.dataPoints.filter((p) => p.value !== 0).map((p) => [p.attributes['error.type'], p.value]));
}

/** Running, as opposed to gone or a zombie (killed, with no init in this container to reap it). */
const running = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('the GPU poller when nvidia-smi misbehaves', () => {
  it('kills a hung nvidia-smi after the timeout, with its whole process group, and polls again', async () => {
    fake.script('sleep 60');
    gpu = createGpuCollector({ intervalMs: 60_000, timeoutMs: 1000 });
    const started = performance.now();
    await gpu.poll();
    expect(await errors()).toEqual({ timeout: 1 });
    const hung = Number(readFileSync(fake.pidFile, 'utf8'));
    await waitUntil(() => !running(hung), { what: `the hung nvidia-smi (pid ${hung}) to be gone` });
    // Gone before its own 60 s were up: killed, not waited for.
    expect(performance.now() - started).toBeLessThan(60_000);
    fake.fixture('tesla-p100-driver510.xml');
    // The timeout bounds every run, a fresh shell's start after the kill included, and a busy machine can
    // take longer than that: such a poll times out too. So poll until one answers, and then check that
    // nothing but timeouts came between.
    const names = await waitUntil(async () => {
      await gpu!.poll();
      return gpu!.gpus.length > 0 && gpu!.gpus.map((g) => g.name);
    }, { what: 'a poll that answers after the kill', timeoutMs: 30_000 });
    expect(names).toEqual(['Tesla P100-PCIE-16GB']);
    expect(Object.keys(await errors())).toEqual(['timeout']);
  }, 60_000);

  it('says once that nvidia-smi is missing, exports no GPU series, and backs off', async () => {
    process.env.PATH = '/nonexistent';
    const lines: string[] = [];
    const created = performance.now();
    gpu = createGpuCollector({ intervalMs: 20, maxBackoffMs: 320, log: (l) => lines.push(l) });
    await sleep(1200);
    process.env.PATH = `${fake.dir}:${savedPath}`;
    const m = await collect(gpu.producer);
    expect(m.metric('hw.gpu.utilization')).toBeUndefined();
    // It checks again at all (a busy machine may take longer than 1.2 s to get there) ...
    const notFound = await waitUntil(async () => ((await errors()).not_found ?? 0) >= 2 && (await errors()).not_found, { what: 'a second not_found check' });
    // ... but waits 40, 80, 160, 320, 320 ... ms between checks: at most one check per wait in the time
    // that really passed (load only delays them), about 6 in 1.2 s rather than 60 at the 20 ms interval.
    const elapsed = performance.now() - created;
    let most = 1;
    for (let at = 40, wait = 40; at <= elapsed; wait = Math.min(2 * wait, 320), at += wait) most++;
    expect(notFound).toBeLessThanOrEqual(most);
    expect(lines).toEqual(['inferwatch: nvidia-smi not found; no GPU metrics (checking again with a growing interval)']);
  });

  it('counts a non-zero exit and drops the values it had', async () => {
    fake.fixture('2gpu-busy-driver384.xml');
    gpu = createGpuCollector({ intervalMs: 60_000 });
    await gpu.poll();
    expect(gpu.gpus).toHaveLength(2);
    fake.script(`echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver." >&2; exit 9`);
    await gpu.poll();
    expect(gpu.gpus).toEqual([]);
    expect((await collect(gpu.producer)).metric('hw.gpu.utilization')).toBeUndefined();
    expect(await errors()).toEqual({ exit_status: 1 });
  });

  it('counts stderr output on a zero exit, garbage and a document that is not an nvidia-smi log', async () => {
    gpu = createGpuCollector({ intervalMs: 60_000 });
    fake.script(`cat "${FIXTURES}tesla-p100-driver510.xml"; echo "WARNING: infoROM is corrupted" >&2`);
    await gpu.poll();
    fake.script('echo "this is <<< not xml"');
    await gpu.poll();
    fake.script('echo "<html><body>hello</body></html>"');
    await gpu.poll();
    expect(await errors()).toEqual({ stderr: 1, invalid_output: 2 });
    expect(gpu.gpus).toEqual([]);
  });

  it('parses an output larger than exec’s 1 MiB default, and refuses one over maxOutputBytes', async () => {
    const padding = `<!-- ${'x'.repeat(3 * 1024 * 1024)} -->`;
    fake.script(`cat "${FIXTURES}rtx-4090-driver535.xml"; echo '${padding}'`);
    gpu = createGpuCollector({ intervalMs: 60_000 });
    await gpu.poll();
    expect(gpu.gpus.map((g) => g.powerDrawWatts)).toEqual([26.84]);
    await gpu.shutdown();
    gpu = createGpuCollector({ intervalMs: 60_000, maxOutputBytes: 1024 * 1024 });
    await gpu.poll();
    expect(await errors()).toEqual({ output_too_large: 1 });
  });
});

describe('xml2js (through node-nvidia-smi)', () => {
  const requireFromGpu = createRequire(createRequire(import.meta.url).resolve('@inferwatch/gpu'));
  const requireFromSmi = createRequire(requireFromGpu.resolve('node-nvidia-smi'));

  it('is a release with the CVE-2023-0842 fix (≥ 0.5), forced by the pnpm override', () => {
    const { version } = requireFromSmi('xml2js/package.json');
    const [major, minor] = version.split('.').map(Number);
    expect(major > 0 || minor >= 5, version).toBe(true);
  });

  it('keeps a crafted __proto__ element out of every prototype', async () => {
    fake.script(`echo '<nvidia_smi_log><__proto__><polluted>yes</polluted></__proto__><gpu id="1"><__proto__><uuid>evil</uuid></__proto__><uuid>GPU-1</uuid><product_name>x</product_name></gpu></nvidia_smi_log>'`);
    const nvidiaSmi = requireFromGpu('node-nvidia-smi');
    const data: { nvidia_smi_log: object } = await new Promise((resolve, reject) => nvidiaSmi((e: unknown, d: never) => (e ? reject(e) : resolve(d))));
    const proto = Object.getPrototypeOf(data.nvidia_smi_log);
    expect(proto === null || proto === Object.prototype).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).uuid).toBeUndefined();
    gpu = createGpuCollector({ intervalMs: 60_000 });
    await gpu.poll();
    expect(gpu.gpus.map((g) => [g.uuid, g.name])).toEqual([['GPU-1', 'x']]);
  });
});
