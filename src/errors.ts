/**
 * Every stable error code shoal raises, in one table so callers (the CLI, the daemon API,
 * scripts matching `error.code`) can rely on the set, and a typo in a code fails the build.
 * Each layer's `errors.ts` (or the module that owns the error) defines the classes.
 */
export const ERROR_CODES = {
  // base and configuration
  USAGE: 'a command line or option that cannot work',
  CONFIG_INVALID: 'a configuration value that cannot be used',
  // runtime
  IO: 'a socket or file operation failed at the OS level',
  EGRESS_DENIED: 'the egress policy refused a destination',
  LISTEN_FAILED: 'a port could not be listened on',
  STOPPED: 'the component was stopped while work was asked of it',
  // metrics and logs
  METRIC_NAME_INVALID: 'a metric or label name breaks the naming rules',
  METRIC_CONFLICT: 'a metric declared again differently',
  METRIC_LABELS_INVALID: 'label values missing, extra or not strings',
  METRIC_VALUE_INVALID: 'a value a metric cannot take',
  METRICS_SCOPE_INVALID: 'a child registry that clashes or was disposed',
  LOG_SPEC_INVALID: 'a log level spec that cannot be parsed',
  LOG_COMPONENT_INVALID: 'a logger component name the spec syntax cannot select',
  LOG_OPTIONS_INVALID: 'a logger option that cannot work',
  // codecs and metainfo
  BENCODE_INVALID: 'malformed or over-limit bencode',
  METAINFO_INVALID: 'a torrent file that is malformed or inconsistent',
  UNSAFE_PATH: 'a path that could escape the download folder',
  MAGNET_INVALID: 'a magnet link that cannot be understood',
  // connections and peer protocols
  CONNECTION_REFUSED: 'the connection manager refused a connection (limits, bans)',
  WIRE_PROTOCOL: 'a peer broke the peer wire protocol',
  HASHES_INVALID: 'a peer sent BEP 52 hashes that do not prove their root',
  METADATA_UNAVAILABLE: 'no peer gave a magnet link its info dictionary',
  // storage and torrents
  TORRENT: "a torrent's files cannot be used",
  TORRENT_EXISTS: 'the torrent is already added',
  // trackers
  HTTP_REQUEST: 'a malformed HTTP request',
  TRACKER_TIMEOUT: 'a tracker did not answer',
  TRACKER_PACKET: 'a malformed UDP tracker packet',
  TRACKER_PROTOCOL: 'a malformed tracker reply or announce',
  TRACKER_FAILURE: "a tracker's failure reason",
  // DHT
  KRPC_INVALID: 'a malformed DHT message',
  DHT: 'a DHT operation could not complete',
  // simulator
  SIM_LIVELOCK: 'simulated code kept scheduling microtasks without advancing',
  SIM_NAT_FULL: 'a simulated NAT ran out of ports',
  SIM_OPTIONS: 'scenario options that cannot work',
  SIM_REAL_IO: 'simulated code reached for real I/O',
  SIM_REENTRANT: 'the simulation was run from inside itself',
  SIM_TIMEOUT: 'a simulated wait ran out of virtual time',
  SIM_UNKNOWN_SCENARIO: 'no scenario by that name',
} as const;

/** One of shoal's stable error codes (see {@link ERROR_CODES}). */
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * The root of every error shoal raises on purpose. Callers match on `code` (stable across
 * releases) rather than on message text, which is written for people and may change.
 */
export class ShoalError extends Error {
  /** A stable, machine-readable identifier such as `BENCODE_INVALID`. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** True when `error` is a {@link ShoalError} with this code. */
export function hasCode(error: unknown, code: ErrorCode): error is ShoalError {
  return error instanceof ShoalError && error.code === code;
}

/** Raised when a caller passes options that cannot work (bad flag values, contradictory modes). */
export class UsageError extends ShoalError {
  constructor(message: string) {
    super('USAGE', message);
  }
}
