/**
 * Reads the object node-nvidia-smi makes of `nvidia-smi -q -x` (xml2js with `explicitArray: false`,
 * `trim: true`). Real outputs vary by driver and board: `N/A`, `[Not Supported]`, padded values,
 * one GPU as an object and several as an array, `power_readings` before driver ~530 and
 * `gpu_power_readings` after. A field that is not a number in the expected unit stays undefined.
 */

export interface GpuProcess {
  pid: number;
  usedMemoryBytes?: number;
}

export interface MigDevice {
  index: string;
  memoryUsedBytes?: number;
  memoryTotalBytes?: number;
}

export interface GpuSample {
  /** Position in nvidia-smi's listing, which is nvidia-smi's own GPU index. */
  index: number;
  uuid: string;
  name: string;
  /** 0..1 */
  utilization?: number;
  /** Memory-controller (bandwidth) utilisation, 0..1. */
  memoryControllerUtilization?: number;
  memoryUsedBytes?: number;
  memoryTotalBytes?: number;
  powerDrawWatts?: number;
  powerLimitWatts?: number;
  temperatureCelsius?: number;
  smClockHz?: number;
  /** Undefined when nvidia-smi gives no process list for this GPU. */
  processes?: GpuProcess[];
  migDevices: MigDevice[];
}

type Node = Record<string, unknown>;

// [multiplier, divisor] per unit: dividing percentages keeps '97 %' exactly 0.97.
const UNITS: Record<string, Record<string, [number, number]>> = {
  bytes: { KiB: [1024, 1], MiB: [1024 ** 2, 1], GiB: [1024 ** 3, 1] },
  ratio: { '%': [1, 100] },
  watts: { W: [1, 1] },
  celsius: { C: [1, 1] },
  hertz: { MHz: [1e6, 1], GHz: [1e9, 1] },
};

const QUANTITY = /^(-?\d+(?:\.\d+)?)\s*([A-Za-z%]+)$/;

/** `'8112 MiB'` → 8506048512 for kind `bytes`; anything else (N/A, wrong unit, not a string) → undefined. */
export function quantity(raw: unknown, kind: keyof typeof UNITS): number | undefined {
  if (typeof raw !== 'string') return undefined;
  const match = QUANTITY.exec(raw.trim());
  if (match === null) return undefined;
  const scale = UNITS[kind][match[2]];
  return scale === undefined ? undefined : (Number(match[1]) * scale[0]) / scale[1];
}

function child(node: unknown, key: string): unknown {
  return typeof node === 'object' && node !== null && Object.prototype.hasOwnProperty.call(node, key) ? (node as Node)[key] : undefined;
}

function list(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  return typeof value === 'object' && value !== null ? [value] : [];
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function firstQuantity(node: unknown, keys: string[], kind: keyof typeof UNITS): number | undefined {
  for (const key of keys) {
    const value = quantity(child(node, key), kind);
    if (value !== undefined) return value;
  }
  return undefined;
}

function processes(gpu: unknown): GpuProcess[] | undefined {
  const node = child(gpu, 'processes');
  if (node === undefined) return undefined;
  // An empty <processes/> element parses as '' : a list with nobody on it.
  if (typeof node === 'string') return node.trim() === '' ? [] : undefined;
  const result: GpuProcess[] = [];
  for (const info of list(child(node, 'process_info'))) {
    const pid = Number(text(child(info, 'pid')));
    if (!Number.isSafeInteger(pid)) continue;
    result.push({ pid, usedMemoryBytes: quantity(child(info, 'used_memory'), 'bytes') });
  }
  return result;
}

function migDevices(gpu: unknown): MigDevice[] {
  return list(child(child(gpu, 'mig_devices'), 'mig_device')).map((device, i) => {
    const memory = child(device, 'fb_memory_usage');
    return {
      index: text(child(device, 'index')) ?? String(i),
      memoryUsedBytes: quantity(child(memory, 'used'), 'bytes'),
      memoryTotalBytes: quantity(child(memory, 'total'), 'bytes'),
    };
  });
}

function sample(gpu: unknown, index: number): GpuSample {
  const memory = child(gpu, 'fb_memory_usage');
  const utilization = child(gpu, 'utilization');
  const power = child(gpu, 'gpu_power_readings') ?? child(gpu, 'power_readings');
  const busId = text(child(child(gpu, '$'), 'id'));
  return {
    index,
    uuid: text(child(gpu, 'uuid')) ?? busId ?? `gpu-${index}`,
    name: text(child(gpu, 'product_name')) ?? 'unknown',
    utilization: quantity(child(utilization, 'gpu_util'), 'ratio'),
    memoryControllerUtilization: quantity(child(utilization, 'memory_util'), 'ratio'),
    memoryUsedBytes: quantity(child(memory, 'used'), 'bytes'),
    memoryTotalBytes: quantity(child(memory, 'total'), 'bytes'),
    // Driver 580 can leave power_draw N/A and report only instant_power_draw.
    powerDrawWatts: firstQuantity(power, ['power_draw', 'instant_power_draw', 'average_power_draw'], 'watts'),
    powerLimitWatts: firstQuantity(power, ['current_power_limit', 'power_limit', 'enforced_power_limit'], 'watts'),
    temperatureCelsius: quantity(child(child(gpu, 'temperature'), 'gpu_temp'), 'celsius'),
    smClockHz: quantity(child(child(gpu, 'clocks'), 'sm_clock'), 'hertz'),
    processes: processes(gpu),
    migDevices: migDevices(gpu),
  };
}

/** The first `maxGpus` GPUs in node-nvidia-smi's result, and how many it lists; throws when the document is not an nvidia-smi log. */
export function parseNvidiaSmi(data: unknown, maxGpus = Infinity): { gpus: GpuSample[]; listed: number } {
  const log = child(data, 'nvidia_smi_log');
  if (typeof log !== 'object' || log === null) throw new Error('not an nvidia-smi log: no <nvidia_smi_log> element');
  const all = list(child(log, 'gpu'));
  return { gpus: all.slice(0, maxGpus).map(sample), listed: all.length };
}
