import type { ChildProcess } from 'node:child_process';

export function freePort(): Promise<number>;

export interface StartChildOptions {
  ready: string | RegExp;
  env?: Record<string, string>;
  timeoutMs?: number;
  cwd?: string;
}

export function startChild(command: string, args: string[], options: StartChildOptions): Promise<{ child: ChildProcess; output: () => string }>;
