// The examples' command lines: parse the flags, print `usage` on --help (exit 0) or on a flag it
// does not know (exit 2), never a stack trace.
import { parseArgs } from 'node:util';

/** The parsed flags; `name` prefixes the error line (`ERROR name] ...`). */
export function parseCommandLine(name, usage, options) {
  let parsed;
  try {
    parsed = parseArgs({ options: { help: { type: 'boolean', default: false }, ...options } });
  } catch (error) {
    console.error(`ERROR ${name}] ${error.message}\n\n${usage}`);
    process.exit(2);
  }
  if (parsed.values.help) {
    console.log(usage);
    process.exit(0);
  }
  return parsed.values;
}
