import { FULL_ONLY, UNIT_TIER_ENV } from './test/tiers.js';
import { suite } from './vitest.config.js';

// `npm run test:unit`: the suite less the files test/tiers.ts leaves to `npm test`. The tier's mark tells
// test/helpers/binaries.ts to skip what needs a system binary in the files that stay. Its files share
// processes, four of them: each loads the SDK once (most of a file's CPU time), and the files mostly wait.
export default suite({ tier: 'unit', leaveOut: Object.keys(FULL_ONLY), env: { [UNIT_TIER_ENV]: 'unit' }, shareProcesses: true, maxWorkers: 4 });
