/**
 * Packages the SDK uses only when a feature is on (the OTLP exporters, the trace SDK, @inferwatch/gpu) are
 * optional peers: an app installs the ones it uses. They are loaded synchronously (start-up stays a plain
 * call) and, when one is missing, the feature stays off and the app is told once the exact line to run.
 */
import { createRequire } from 'node:module';
import { errorText, type Notices } from '../record/notices.js';

const load = createRequire(import.meta.url);

/** `name` loaded, or undefined when it is missing or fails to load (said once, naming `install`). */
export function optionalPackage<T>(name: string, feature: string, install: readonly string[], notices: Notices): T | undefined {
  try {
    return load(name) as T;
  } catch (error) {
    const e = error as { code?: unknown; message?: unknown };
    const missing = e?.code === 'MODULE_NOT_FOUND' && String(e.message).includes(name);
    const reason = missing ? 'it is not installed' : `it could not be loaded: ${errorText(error)}`;
    notices.warn(`package:${name}`, `${feature} needs ${name}, and ${reason}. Run: npm install ${install.join(' ')}`);
    return undefined;
  }
}
