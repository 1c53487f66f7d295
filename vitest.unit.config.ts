import { FULL_ONLY, UNIT_TIER_ENV } from './test/tiers.js';
import { suite } from './vitest.config.js';

// `npm run test:unit`: the suite less the files test/tiers.ts leaves to `npm test`, with the same groups.
// The tier's mark tells test/helpers/binaries.ts to skip what needs a system binary in the files that stay.
export default suite({ tier: 'unit', leaveOut: Object.keys(FULL_ONLY), env: { [UNIT_TIER_ENV]: 'unit' } });
