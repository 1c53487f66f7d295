import { createLlmMetrics } from '@inferwatch/sdk';
import { ExpositionWriter } from '../packages/sdk/src/exposition.ts';
