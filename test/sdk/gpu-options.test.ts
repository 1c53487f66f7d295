import { describe, expectTypeOf, it } from 'vitest';
import type { GpuCollectorOptions } from '@inferwatch/gpu';
import type { GpuOption } from '@inferwatch/sdk';

// The SDK spells out @inferwatch/gpu's options so that its declarations need not import that package;
// `npm run typecheck` fails here when the two drift apart.
describe("startMetrics({ gpu })'s options", () => {
  it('are exactly @inferwatch/gpu’s GpuCollectorOptions', () => {
    expectTypeOf<Exclude<GpuOption, boolean>>().toEqualTypeOf<GpuCollectorOptions>();
  });
});
