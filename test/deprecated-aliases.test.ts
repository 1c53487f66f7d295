// The wrappers' old names (before issue #15's one naming scheme) keep working: each is the new
// function itself, not a copy, and its type says it is deprecated.
import { readFileSync } from 'node:fs';
import * as client from '@inferwatch/client';
import * as http from '@inferwatch/http';
import { describe, expect, it } from 'vitest';

const aliases = [
  ['http', 'instrumentHandler', 'instrumentNodeHttp'],
  ['http', 'expressMiddleware', 'instrumentExpress'],
  ['http', 'fastifyPlugin', 'instrumentFastify'],
  ['http', 'honoMiddleware', 'instrumentHono'],
  ['client', 'aiSdkMiddleware', 'instrumentAiSdk'],
] as const;

const modules: Record<string, Record<string, unknown>> = { http, client };

describe('deprecated wrapper names', () => {
  it.each(aliases)('@inferwatch/%s %s is %s, marked @deprecated in the built types', (pkg, old, current) => {
    expect(typeof modules[pkg][current]).toBe('function');
    expect(modules[pkg][old]).toBe(modules[pkg][current]);
    for (const types of ['index.d.ts', 'index.d.cts']) {
      const text = readFileSync(new URL(`../packages/${pkg}/dist/${types}`, import.meta.url), 'utf8');
      expect(text).toMatch(new RegExp(`@deprecated use \`${current}\`[^*]*\\*/\\s*declare const ${old}: typeof ${current};`));
    }
  });
});
