import { timingSafeEqual } from 'node:crypto';
import { ApiError } from './errors.js';

/**
 * Who may drive the daemon. Credentials: the token from `<dataDir>/api-token` (as
 * `Authorization: Bearer …` or `X-Shoal-Token`), or HTTP Basic with the configured user and
 * password (what `transmission-remote --auth` sends; the token is accepted as a Basic password
 * too). No cookies are ever used, so a page on another site cannot ride on a session; on top of
 * that, browser requests from another origin are refused (Origin, Sec-Fetch-Site), and while the
 * daemon listens on loopback the Host header must name loopback, which defeats DNS rebinding.
 */
export interface AuthPolicy {
  readonly token: string;
  readonly user?: string;
  readonly password?: string;
  /** True when the server listens on a loopback address only. */
  readonly loopbackOnly: boolean;
}

/** The request parts the checks look at. */
export interface AuthRequest {
  readonly headers: Readonly<Record<string, string>>;
  readonly remoteAddress: string;
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopbackAddress(address: string): boolean {
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** The host part of a Host header (`[::1]:9091` → `::1`), or undefined when malformed. */
export function hostOf(header: string): string | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+))(?::(\d{1,5}))?$/.exec(header.trim());
  if (!m) return undefined;
  return (m[1] ?? m[2])!.toLowerCase();
}

/** True when a Host header names this machine by a loopback name or address. */
export function isLoopbackHost(header: string): boolean {
  const host = hostOf(header);
  return host !== undefined && (host === 'localhost' || isLoopbackAddress(host));
}

/**
 * Refuses requests a browser makes on behalf of another site, and (on loopback) requests whose
 * Host is not loopback. Applies to every request, pages included.
 * @throws {ApiError} 403 `CROSS_ORIGIN` or `HOST_NOT_ALLOWED`
 */
export function checkOrigin(req: AuthRequest, policy: AuthPolicy): void {
  const host = req.headers.host;
  if (host === undefined || hostOf(host) === undefined)
    throw new ApiError(400, 'BAD_HOST', 'the request has no valid Host header');
  if (policy.loopbackOnly && !isLoopbackHost(host)) {
    throw new ApiError(
      403,
      'HOST_NOT_ALLOWED',
      `this daemon answers to loopback names only (localhost, 127.0.0.1, [::1]), not "${host}"`,
    );
  }
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new ApiError(403, 'CROSS_ORIGIN', 'requests from other sites are refused');
  }
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let originHost: string;
    try {
      originHost = new URL(origin).host;
    } catch {
      throw new ApiError(403, 'CROSS_ORIGIN', 'requests from other sites are refused');
    }
    if (originHost.toLowerCase() !== host.toLowerCase())
      throw new ApiError(403, 'CROSS_ORIGIN', `requests from ${origin} are refused`);
  }
}

/** How a request proved itself. */
export type Credential = 'token' | 'password' | 'none';

/**
 * Which valid credential the request carries. A wrong credential is an error even where none
 * would do, so a typo is reported instead of silently ignored.
 * @throws {ApiError} 401 `UNAUTHORIZED`
 */
export function authenticate(req: AuthRequest, policy: AuthPolicy): Credential {
  const header = req.headers['x-shoal-token'];
  if (header !== undefined) {
    if (same(header.trim(), policy.token)) return 'token';
    throw unauthorized('the X-Shoal-Token header does not match the token in the data folder');
  }
  const authorization = req.headers.authorization;
  if (authorization === undefined) return 'none';
  const [scheme = '', value = ''] = authorization.trim().split(/\s+/, 2);
  if (scheme.toLowerCase() === 'bearer') {
    if (same(value, policy.token)) return 'token';
    throw unauthorized('the bearer token does not match the token in the data folder');
  }
  if (scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? decoded : decoded.slice(0, colon);
    const password = colon < 0 ? '' : decoded.slice(colon + 1);
    if (policy.password !== undefined && same(password, policy.password)) {
      if (policy.user === undefined || same(user, policy.user)) return 'password';
    }
    if (same(password, policy.token)) return 'token';
    throw unauthorized('wrong user name or password');
  }
  throw unauthorized(`unsupported authorization scheme "${scheme}"`);
}

/**
 * Requires a credential, except where `anonymousAllowed` (the Transmission RPC and /metrics
 * when no password is configured, as Transmission itself does on loopback).
 * @throws {ApiError} 401 `UNAUTHORIZED`
 */
export function requireCredential(
  req: AuthRequest,
  policy: AuthPolicy,
  anonymousAllowed: boolean,
): Credential {
  const credential = authenticate(req, policy);
  if (credential === 'none' && !(anonymousAllowed && policy.password === undefined)) {
    throw unauthorized(
      'send the token from <data-dir>/api-token as "Authorization: Bearer <token>", or the configured user and password',
    );
  }
  return credential;
}

function unauthorized(message: string): ApiError {
  return new ApiError(401, 'UNAUTHORIZED', message);
}

/** Compares secrets in time independent of where they differ. */
function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
