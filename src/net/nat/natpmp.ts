/**
 * NAT-PMP (RFC 6886) messages, without I/O. A client asks its default gateway, on UDP port
 * 5351, for the external address (opcode 0) or for a mapping of a UDP (1) or TCP (2) port
 * with a lifetime; lifetime 0 deletes it. Replies carry opcode + 128 and a result code.
 */
import { NatReplyError } from './errors.js';

/** The gateway's NAT-PMP port. */
export const NAT_PMP_PORT = 5351;

/** What a mapping request maps. */
export type NatPmpProtocol = 'udp' | 'tcp';

const OPCODE = { address: 0, udp: 1, tcp: 2 } as const;

/** RFC 6886 §3.5 result codes. */
export const NAT_PMP_RESULTS: readonly string[] = [
  'success',
  'unsupported version',
  'not authorized or refused',
  'network failure',
  'out of resources',
  'unsupported opcode',
];

/** The request for the gateway's external address. */
export function natPmpAddressRequest(): Buffer {
  return Buffer.from([0, OPCODE.address]);
}

/**
 * The request mapping `internalPort` (suggesting `externalPort`) for `lifetimeSeconds`; a
 * lifetime of 0 (with external port 0) deletes the mapping.
 */
export function natPmpMapRequest(
  protocol: NatPmpProtocol,
  internalPort: number,
  externalPort: number,
  lifetimeSeconds: number,
): Buffer {
  const b = Buffer.alloc(12);
  b[0] = 0;
  b[1] = OPCODE[protocol];
  b.writeUInt16BE(internalPort, 4);
  b.writeUInt16BE(externalPort, 6);
  b.writeUInt32BE(lifetimeSeconds >>> 0, 8);
  return b;
}

/** A gateway's reply. `result` 0 is success; the other fields are valid only then. */
export type NatPmpReply =
  | {
      readonly op: 'address';
      readonly result: number;
      readonly epochSeconds: number;
      readonly externalAddress: string;
    }
  | {
      readonly op: NatPmpProtocol;
      readonly result: number;
      readonly epochSeconds: number;
      readonly internalPort: number;
      readonly externalPort: number;
      readonly lifetimeSeconds: number;
    };

/**
 * Reads a gateway's reply. A reply of any other version, an opcode below 128, or a wrong size
 * is refused (an error reply may be short: RFC 6886 §3.5 lets it carry only the header).
 * @throws {NatReplyError}
 */
export function decodeNatPmpReply(data: Uint8Array): NatPmpReply {
  const fail = (problem: string) => new NatReplyError('NAT-PMP reply', problem);
  if (data.length < 4) throw fail(`${data.length} bytes, too short`);
  const b = Buffer.from(data.buffer, data.byteOffset, data.length);
  if (b[0] !== 0) throw fail(`version ${b[0]}, not 0`);
  const opcode = b[1]!;
  if (opcode < 128 || opcode > 130) throw fail(`opcode ${opcode} is not a reply we ask for`);
  const result = b.readUInt16BE(2);
  const op = opcode === 128 ? 'address' : opcode === 129 ? 'udp' : 'tcp';
  const size = op === 'address' ? 12 : 16;
  if (result !== 0 && b.length < size) {
    // An error reply that stops after the result code or the epoch.
    return op === 'address'
      ? { op, result, epochSeconds: 0, externalAddress: '' }
      : { op, result, epochSeconds: 0, internalPort: 0, externalPort: 0, lifetimeSeconds: 0 };
  }
  if (b.length !== size) throw fail(`${b.length} bytes for opcode ${opcode}, not ${size}`);
  const epochSeconds = b.readUInt32BE(4);
  if (op === 'address')
    return { op, result, epochSeconds, externalAddress: `${b[8]}.${b[9]}.${b[10]}.${b[11]}` };
  return {
    op,
    result,
    epochSeconds,
    internalPort: b.readUInt16BE(8),
    externalPort: b.readUInt16BE(10),
    lifetimeSeconds: b.readUInt32BE(12),
  };
}

/** A result code in words. */
export function natPmpResultText(result: number): string {
  return NAT_PMP_RESULTS[result] ?? `result ${result}`;
}
