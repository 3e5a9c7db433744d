// as src/docker/layer-fixture.ts
// docker (runtime layer) reaching up: the CLI, the operator's flows (in a type position), a platform (dynamic).
import type { CommandSpec } from '../cli/command.js';

export type Fixture = [CommandSpec, import('../deploy/spawn.js').SpawnPlan];
export const loadSim = (): Promise<unknown> => import('../sim/index.js');
