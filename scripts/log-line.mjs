// The demo's and the build's lines in the SDK's default log format (`INFO MM-DD HH:MM:SS name] text`,
// vLLM's), so they interleave readably with the gateway's and the engine's.

/** `MM-DD HH:MM:SS` in local time, as the SDK's default log sink prints it. */
export function timestamp(date = new Date()) {
  const two = (n) => String(n).padStart(2, '0');
  return `${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}

export function logLine(name, message, level = 'INFO') {
  (level === 'INFO' ? console.log : console.error)(`${level} ${timestamp()} ${name}] ${message}`);
}

// `INFO gateway] text`: a line in the format whose custom sink left the time out.
const UNSTAMPED = /^(DEBUG|INFO|WARNING|ERROR) (?!\d\d-\d\d \d\d:\d\d:\d\d )(?=\S+\] )/;

/** The line with the current time inserted when it is a log line without one; any other line unchanged. */
export const stampLine = (line, date = new Date()) => line.replace(UNSTAMPED, (level) => `${level}${timestamp(date)} `);

/** Copies a child's output to `out` line by line, stamping its log lines. */
export function pipeStamped(stream, out) {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop();
    for (const line of lines) out.write(`${stampLine(line)}\n`);
  });
  stream.on('end', () => pending && out.write(`${stampLine(pending)}\n`));
}
