import { PortMapper, type PortMappingStatus } from '../net/nat/port-mapper.js';
import type { Runtime } from '../runtime/runtime.js';
import type { NodeConfig } from './config.js';

/**
 * Starts the node's port mapper from its configuration (UPnP and/or NAT-PMP, the gateway, the
 * listen address to send from) for its TCP port and UDP socket; `onChange` hears every status.
 */
export function startPortMapper(
  runtime: Runtime,
  config: NodeConfig,
  ports: { tcp: number; udp: number },
  onChange: (status: PortMappingStatus) => void,
): PortMapper {
  const host = config.host;
  const mapper = new PortMapper(runtime, {
    upnp: config.upnp,
    natPmp: config.natPmp,
    ...(config.natGateway !== '' && { gateway: config.natGateway }),
    ...(host !== '0.0.0.0' && host !== '::' && { bindHost: host }),
  });
  mapper.on('change', onChange);
  mapper.start(ports);
  return mapper;
}
