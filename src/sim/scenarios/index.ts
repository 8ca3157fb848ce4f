import type { ScenarioDefinition } from '../scenario.js';
import { connectDefinition } from './connect.js';
import { dhtDefinition } from './dht.js';
import { offloadDefinition } from './offload.js';
import { searchDefinition } from './search.js';
import { streamDefinition } from './stream.js';
import { swarmDefinition } from './swarm.js';

export { type ConnectScenarioOptions, connectScenario } from './connect.js';
export { type DhtScenarioOptions, dhtScenario } from './dht.js';
export { type OffloadScenarioOptions, offloadScenario } from './offload.js';
export { type SearchScenarioOptions, searchScenario } from './search.js';
export { type StreamScenarioOptions, streamScenario } from './stream.js';
export { type SwarmScenarioOptions, swarmScenario } from './swarm.js';

/** Every scenario `shoal sim` can run, by name. */
export const SCENARIOS: ReadonlyMap<string, ScenarioDefinition> = new Map(
  [
    dhtDefinition,
    swarmDefinition,
    streamDefinition,
    offloadDefinition,
    connectDefinition,
    searchDefinition,
  ].map((d) => [d.name, d]),
);
