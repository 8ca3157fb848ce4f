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
  UNSAFE_FILE: 'a symbolic link or special file on the path of a file shoal would open',
  SECRET_FILE_UNSAFE: 'a key file readable or writable by others',
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
  FILE_SELECTION: 'a file selection that names no file of the torrent',
  // identities, Noise and the secure channel
  IDENTITY_INVALID: 'a shoal key that cannot be read',
  IDENTITY_FILE: 'an identity key file that cannot be used or would replace another identity',
  NOISE_DECRYPT: 'a Noise message failed authentication',
  NOISE_MESSAGE: 'a malformed Noise handshake message',
  NOISE_BAD_KEY: 'a Noise public key that cannot be used',
  NOISE_NONCE_EXHAUSTED: 'a Noise cipher ran out of nonces',
  NOISE_STATE: 'a Noise handshake used out of order',
  SECURE_HANDSHAKE: 'the secure channel handshake failed',
  SECURE_TIMEOUT: 'the secure channel handshake did not finish in time',
  SECURE_IDENTITY: 'the peer is not the key that was dialled',
  SECURE_FRAME: 'a malformed or tampered secure channel frame',
  SECURE_CLOSED: 'the secure channel closed',
  MUX_PROTOCOL: 'a peer broke the channel multiplexing protocol',
  MUX_REJECTED: 'the peer refused to open a channel',
  MUX_CLOSED: 'the channel or its connection closed',
  MUX_USAGE: 'a channel used the wrong way',
  PING_FAILED: 'a ping got no answer',
  PEER_NOT_FOUND: 'nothing says where a key is (no record in the DHT)',
  PEER_UNREACHABLE: 'a key could not be reached directly, punched or relayed',
  RELAY_REFUSED: 'a relay would not carry a connection (limits, target not connected)',
  PEER_RECORD_INVALID: 'a malformed address record in the DHT',
  RENDEZVOUS_PROTOCOL: 'a malformed rendezvous message',
  // connections and peer protocols
  CONNECTION_REFUSED: 'the connection manager refused a connection (limits, bans)',
  BLOCKLIST_INVALID: 'an IP blocklist over its size limits, or that cannot be read',
  MSE_HANDSHAKE: 'a Message Stream Encryption handshake failed',
  UTP_PACKET_INVALID: 'a malformed uTP packet',
  UTP_CONNECT_TIMEOUT: 'a uTP peer did not answer the connection request',
  UTP_TIMEOUT: 'a uTP connection timed out',
  UTP_RESET: 'the uTP peer reset the connection',
  UTP_CLOSED: 'the uTP connection is closed',
  UTP_REFUSED: 'a uTP connection was refused (limits)',
  UTP_OVERFLOW: 'a uTP writer ignored back-pressure',
  NAT_REPLY_INVALID: 'a router sent a malformed SSDP, UPnP or NAT-PMP reply',
  PORT_MAPPING: 'the router refused a port mapping, or none could be reached',
  WIRE_PROTOCOL: 'a peer broke the peer wire protocol',
  HASHES_INVALID: 'a peer sent BEP 52 hashes that do not prove their root',
  METADATA_UNAVAILABLE: 'no peer gave a magnet link its info dictionary',
  // storage and torrents
  TORRENT: "a torrent's files cannot be used",
  TORRENT_EXISTS: 'the torrent is already added',
  RANGE_NOT_SATISFIABLE: 'a byte range outside the file asked for',
  // trackers
  HTTP_REQUEST: 'a malformed HTTP request',
  TRACKER_TIMEOUT: 'a tracker did not answer',
  TRACKER_PACKET: 'a malformed UDP tracker packet',
  TRACKER_PROTOCOL: 'a malformed tracker reply or announce',
  TRACKER_FAILURE: "a tracker's failure reason",
  // DHT
  KRPC_INVALID: 'a malformed DHT message',
  DHT: 'a DHT operation could not complete',
  // daemon API and remote CLI
  API_CONFIG_INVALID: 'API settings that cannot work (a public address without a password)',
  BAD_REQUEST: 'an API request that cannot be understood',
  BAD_JSON: 'an API request body that is not JSON',
  BAD_FIELD: 'an API request field of the wrong type or value',
  BAD_QUERY: 'an API query string that cannot be understood',
  BAD_ID: 'a torrent id that is not an info-hash',
  BAD_SOURCE: 'a torrent source that is neither a magnet, a URL nor a .torrent',
  BAD_TARGET: 'an HTTP request target that cannot be understood',
  BAD_HOST: 'an HTTP request without a valid Host header',
  HOST_NOT_ALLOWED: 'an HTTP request naming a host the daemon does not serve',
  CROSS_ORIGIN: 'a request from another site',
  UNAUTHORIZED: 'an API request without valid credentials',
  NOT_FOUND: 'no such route or object',
  NO_ROUTE: 'no such route',
  TORRENT_NOT_FOUND: 'no torrent by that id',
  AMBIGUOUS_ID: 'a torrent id prefix that matches several torrents',
  METHOD_NOT_ALLOWED: 'an HTTP method a route does not take',
  UNSUPPORTED_MEDIA_TYPE: 'a request body of a type the route does not take',
  BODY_TOO_LARGE: 'a request body over the limit',
  TORRENT_URL_FAILED: 'a .torrent URL that could not be fetched',
  UI_NOT_BUILT: 'the web UI is not built',
  INTERNAL: 'an unexpected failure inside the daemon',
  HTTP_CALL_FAILED: 'an HTTP call that failed',
  DAEMON_UNREACHABLE: 'no daemon answers',
  DAEMON_BAD_ANSWER: 'the daemon answered something that is not its API',
  DAEMON_ERROR: 'the daemon answered with an error it did not name',
  // overlay and search
  OVERLAY_MESSAGE: 'a malformed overlay, gossip or search message',
  OVERLAY_UNAVAILABLE: 'the overlay is not running or has no neighbours',
  SEARCH_RECORD_INVALID: 'a search record that is malformed or wrongly signed',
  SEARCH_QUERY_INVALID: 'a search with no usable keywords',
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

/** True when `code` is one of shoal's codes (for codes read off the wire). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
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
