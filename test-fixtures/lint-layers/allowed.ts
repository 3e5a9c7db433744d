// as src/deploy/layer-fixture.ts
// The operator's flows import lower layers only: platforms, contracts, base, core, and their own folder.
import type { Logger } from '../base/log.js';
import { InputError } from '../errors.js';
import type { InputArgs } from '../launch/args.js';
import { startQuotingService } from '../sim/index.js';
import { listDeployments } from './deployments.js';

export type Fixture = [Logger, InputArgs, typeof InputError, typeof startQuotingService, typeof listDeployments];
export const loadCommand = (): Promise<unknown> => import('./spawn.js');
