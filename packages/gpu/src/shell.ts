import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type ShellCallback = (error: (Error & { code?: unknown; cmd?: string }) | null, stdout: string, stderr: string) => void;

/** Largest stderr kept: enough for any nvidia-smi message, nothing like the 300 MB a broken one can print. */
export const MAX_STDERR_BYTES = 64 * 1024;

// Runs each command line it reads, then prints the exit code. The only fork per command happens in
// this small shell, never in the host: forking a large Node process, even from a worker thread,
// stalls its main thread. (The commands are this package's own.)
//
// Bounds: stdout and stderr pass through `head -c`, so no more than the cap (plus one byte, to tell
// "too large" from "exactly the cap") is ever written, and a command that keeps writing dies of
// SIGPIPE. The host holds the other end of fd 3 and never writes to it: when that end closes (the
// worker ended, crashed, or the host died however it died), the watcher's read returns, and it
// removes the folder and kills the whole process group, nvidia-smi's own children included.
// `head` is looked up in the standard places too: the host's PATH decides where nvidia-smi comes
// from, not whether the caps apply. The exit code is read back with builtins only.
const LOOP = `
dir=$1
head=$(command -v head || PATH=/usr/bin:/bin command -v head)
( read -r _ <&3; rm -rf "$dir"; kill -KILL 0 ) &
while IFS= read -r cmd; do
  { { $cmd 3<&- </dev/null; echo $? >"$dir/code"; } 2>&1 1>&4 | "$head" -c $3 >"$dir/err"; } 4>&1 | "$head" -c $2 >"$dir/out"
  code=141
  read -r code <"$dir/code"
  echo "$code"
done
`;

interface Pending {
  command: string;
  callback: ShellCallback;
}

/**
 * A long-lived `sh` in a process group of its own that runs commands one at a time. `kill()` ends
 * the group (the shell and whatever it runs) and removes its folder; the next command starts a new one.
 */
export class PersistentShell {
  private child: ChildProcess | undefined;
  private dir = '';
  private pending: Pending | undefined;
  private lineBuffer = '';

  constructor(private readonly maxOutputBytes: number) {}

  run(command: string, callback: ShellCallback): void {
    if (this.pending !== undefined) return callback(Object.assign(new Error('a command is already running'), { cmd: command }), '', '');
    let child: ChildProcess;
    try {
      child = this.child ?? this.start();
    } catch (error) {
      return callback(Object.assign(error as Error, { cmd: command }), '', '');
    }
    this.pending = { command, callback };
    child.stdin?.write(`${command}\n`);
  }

  kill(): void {
    const pid = this.child?.pid;
    if (pid !== undefined) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    this.reset(Object.assign(new Error('killed'), { code: null, signal: 'SIGKILL' }));
  }

  private start(): ChildProcess {
    this.dir = mkdtempSync(join(tmpdir(), 'inferwatch-nvidia-smi-'));
    const args = ['-c', LOOP, 'inferwatch-gpu-shell', this.dir, String(this.maxOutputBytes + 1), String(MAX_STDERR_BYTES)];
    const child = spawn('/bin/sh', args, { detached: true, stdio: ['pipe', 'pipe', 'ignore', 'pipe'] });
    child.unref();
    child.stdout?.setEncoding('latin1').on('data', (text: string) => {
      this.lineBuffer += text;
      let newline: number;
      while ((newline = this.lineBuffer.indexOf('\n')) !== -1) {
        const code = Number(this.lineBuffer.slice(0, newline));
        this.lineBuffer = this.lineBuffer.slice(newline + 1);
        this.finish(code);
      }
    });
    child.stdin?.on('error', () => {});
    child.on('error', (error) => this.reset(error));
    child.on('exit', () => {
      if (this.child === child) this.reset(new Error('the shell exited'));
    });
    this.child = child;
    return child;
  }

  private finish(code: number): void {
    const pending = this.pending;
    if (pending === undefined) return;
    this.pending = undefined;
    const { command, callback } = pending;
    try {
      const size = statSync(join(this.dir, 'out')).size;
      const stderr = readFileSync(join(this.dir, 'err'), 'utf8');
      if (size > this.maxOutputBytes) {
        return callback(Object.assign(new Error(`output over ${this.maxOutputBytes} bytes`), { code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER', cmd: command }), '', stderr);
      }
      const stdout = readFileSync(join(this.dir, 'out'), 'utf8');
      if (code !== 0) return callback(Object.assign(new Error(`Command failed: ${command}\n${stderr}`), { code, cmd: command }), stdout, stderr);
      callback(null, stdout, stderr);
    } catch (error) {
      callback(Object.assign(error as Error, { cmd: command }), '', '');
    }
  }

  private reset(error: Error): void {
    this.child = undefined;
    this.lineBuffer = '';
    if (this.dir !== '') rmSync(this.dir, { recursive: true, force: true });
    this.dir = '';
    const pending = this.pending;
    this.pending = undefined;
    pending?.callback(Object.assign(error, { cmd: pending.command }), '', '');
  }
}
