import type { ScenarioDefinition } from '../scenario.js';
import { dhtDefinition } from './dht.js';
import { searchDefinition } from './search.js';
import { swarmDefinition } from './swarm.js';

export { type DhtScenarioOptions, dhtScenario } from './dht.js';
export { type SearchScenarioOptions, searchScenario } from './search.js';
export { type SwarmScenarioOptions, swarmScenario } from './swarm.js';

/** Every scenario `shoal sim` can run, by name. */
export const SCENARIOS: ReadonlyMap<string, ScenarioDefinition> = new Map(
  [dhtDefinition, searchDefinition, swarmDefinition].map((d) => [d.name, d]),
);
