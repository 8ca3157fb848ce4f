import { ShoalError } from '../../errors.js';

/**
 * A router's reply could not be understood: an SSDP answer, a device description, a SOAP
 * reply or a NAT-PMP datagram that is malformed or over its size limit. Every decoder of the
 * port-mapping protocols throws this and nothing else.
 */
export class NatReplyError extends ShoalError {
  constructor(what: string, problem: string) {
    super('NAT_REPLY_INVALID', `malformed ${what}: ${problem}`);
  }
}

/**
 * A port mapping could not be made, renewed or removed: no router answered, or it refused
 * (`code` is the UPnP error code or NAT-PMP result code when it said why).
 */
export class PortMappingError extends ShoalError {
  constructor(
    message: string,
    readonly routerCode?: number,
  ) {
    super('PORT_MAPPING', message);
  }
}
