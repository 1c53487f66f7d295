// The examples' command lines: parse the flags, print `usage` on --help (exit 0) or on a flag it
// does not know (exit 2), never a stack trace.
import { parseArgs } from 'node:util';

/** @typedef {NonNullable<import('node:util').ParseArgsConfig['options']>} Options */
/** @typedef {{ help: { type: 'boolean', default: false } }} HelpOption */

/**
 * The parsed flags, typed from `options` (a string flag with a default is a string, one without may be
 * undefined, a `multiple` one an array); `name` prefixes the error line (`ERROR name] ...`).
 * @template {Options} O
 * @param {string} name
 * @param {string} usage
 * @param {O} options
 * @returns {ReturnType<typeof parseArgs<{ options: HelpOption & O }>>['values']}
 */
export function parseCommandLine(name, usage, options) {
  /** @type {{ options: HelpOption & O }} */
  const config = { options: { help: { type: 'boolean', default: false }, ...options } };
  let parsed;
  try {
    parsed = parseArgs(config);
  } catch (error) {
    console.error(`ERROR ${name}] ${error instanceof Error ? error.message : error}\n\n${usage}`);
    process.exit(2);
  }
  // (`in`: inside this generic function the values' type is not resolved yet.)
  if ('help' in parsed.values && parsed.values.help) {
    console.log(usage);
    process.exit(0);
  }
  return parsed.values;
}
