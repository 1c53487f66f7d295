/** The GPU metrics: OTel hardware semantic-convention names where they exist, `inferwatch.gpu.*` otherwise. */
export const GPU_GAUGES = {
  utilization: { name: 'hw.gpu.utilization', unit: '1', description: 'Fraction of time the GPU was busy over the last sample period (nvidia-smi gpu_util).' },
  memoryUtilization: { name: 'hw.gpu.memory.utilization', unit: '1', description: 'Fraction of GPU framebuffer memory in use (used ÷ total).' },
  memoryControllerUtilization: {
    name: 'inferwatch.gpu.memory_controller.utilization',
    unit: '1',
    description: 'Fraction of time the memory controller was busy (nvidia-smi memory_util).',
  },
  memoryUsage: { name: 'hw.gpu.memory.usage', unit: 'By', description: 'GPU framebuffer memory in use.' },
  memoryLimit: { name: 'hw.gpu.memory.limit', unit: 'By', description: 'GPU framebuffer memory size.' },
  power: { name: 'hw.power', unit: 'W', description: 'Power the GPU draws.' },
  powerLimit: { name: 'inferwatch.gpu.power.limit', unit: 'W', description: 'Power limit the GPU enforces.' },
  temperature: { name: 'hw.temperature', unit: 'Cel', description: 'GPU core temperature.' },
  smClock: { name: 'inferwatch.gpu.clock.sm', unit: 'Hz', description: 'Current SM clock.' },
  processMemory: {
    name: 'inferwatch.gpu.process.memory.usage',
    unit: 'By',
    description: 'GPU memory held by this process (or the configured pids), per GPU.',
  },
  migMemoryUsage: { name: 'inferwatch.gpu.mig.memory.usage', unit: 'By', description: 'Framebuffer memory in use per MIG device.' },
  migMemoryLimit: { name: 'inferwatch.gpu.mig.memory.limit', unit: 'By', description: 'Framebuffer memory size per MIG device.' },
} as const;

export const POLL_ERRORS = {
  name: 'inferwatch.gpu.poll.errors',
  unit: '{error}',
  description: 'nvidia-smi polls that produced no data, by error.type (not_found, timeout, exit_status, stderr, invalid_output, output_too_large).',
} as const;

export const ATTR_HW_ID = 'hw.id';
export const ATTR_HW_TYPE = 'hw.type';
export const ATTR_HW_NAME = 'hw.name';
export const ATTR_GPU_INDEX = 'gpu.index';
export const ATTR_GPU_TASK = 'hw.gpu.task';
export const ATTR_PROCESS_PID = 'process.pid';
export const ATTR_MIG_INDEX = 'gpu.mig.index';
