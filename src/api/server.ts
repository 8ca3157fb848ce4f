import { fileURLToPath } from 'node:url';
import { PROMETHEUS_CONTENT_TYPE } from '../metrics/exposition.js';
import { StreamServer } from '../node/stream-server.js';
import { type HttpHandler, type HttpServerHandle, listenHttp } from '../runtime/http-server.js';
import type { Runtime } from '../runtime/runtime.js';
import {
  type AuthPolicy,
  checkOrigin,
  isLoopbackAddress,
  isLoopbackHost,
  requireCredential,
} from './auth.js';
import type { NodeControl } from './control.js';
import { ApiError, notFound } from './errors.js';
import { EventHub } from './events.js';
import { COMMON_HEADERS, parseTarget, sendError } from './http.js';
import { declareDaemonMetrics } from './prometheus.js';
import { apiRoutes } from './routes.js';
import { type ApiSettings, assertSafeListen } from './settings.js';
import { TransmissionRpc } from './transmission.js';
import { WEB_CSP, WebAssets } from './web-assets.js';

/**
 * Where `npm run build` puts the web UI, relative to this module in dist/ (and to the bundled
 * CLI's chunks in dist/src/bin/).
 */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../web/', import.meta.url));

/** What the API server is made of. */
export interface ApiServerOptions {
  readonly runtime: Runtime;
  readonly control: NodeControl;
  readonly settings: ApiSettings;
  /** The token from `<dataDir>/api-token`. */
  readonly token: string;
  readonly version: string;
  /** The built web UI; {@link DEFAULT_WEB_DIR} when absent. */
  readonly webDir?: string;
  /** Seconds between event-stream ticks (tests shorten it). */
  readonly eventIntervalMs?: number;
  /** Streams torrents over HTTP (`/stream/…`, `/watch/…`), when given. */
  readonly streams?: StreamServer;
}

/** The request handler of the daemon's front, and what must be closed with it. */
export interface ApiHandler {
  readonly handle: HttpHandler;
  readonly events: EventHub;
}

/** Builds the handler {@link ApiServer} serves (tests call it without sockets). */
export async function createApiHandler(options: ApiServerOptions): Promise<ApiHandler> {
  const { runtime, control, settings } = options;
  const policy: AuthPolicy = {
    token: options.token,
    ...(settings.user !== undefined && { user: settings.user }),
    ...(settings.password !== undefined && { password: settings.password }),
    loopbackOnly: isLoopbackAddress(settings.host) || settings.host === 'localhost',
  };
  const events = new EventHub(control, runtime.timers, options.eventIntervalMs);
  const routes = apiRoutes({ control, events, http: runtime.http, version: options.version });
  const rpc = new TransmissionRpc({
    control,
    http: runtime.http,
    clock: runtime.clock,
    random: runtime.random,
    version: options.version,
  });
  declareDaemonMetrics(control.metrics, control, runtime.clock.wallTime());
  const assets = await WebAssets.load(runtime.fs, options.webDir ?? DEFAULT_WEB_DIR);

  const handle: HttpHandler = async (req, res) => {
    const challenge: Record<string, string> =
      policy.password !== undefined ? { 'www-authenticate': 'Basic realm="shoal"' } : {};
    try {
      const { path, query } = parseTarget(req.url);
      checkOrigin(req, policy);
      if (path === '/transmission/rpc' || path === '/transmission/rpc/') {
        try {
          requireCredential(req, policy, true);
        } catch (error) {
          sendError(res, error, { 'www-authenticate': 'Basic realm="shoal"' });
          return;
        }
        await rpc.handle(req, res);
        return;
      }
      if (path === '/metrics') {
        requireCredential(req, policy, true);
        res.send(
          200,
          { ...COMMON_HEADERS, 'content-type': PROMETHEUS_CONTENT_TYPE },
          control.metrics.exposition(),
        );
        return;
      }
      if (options.streams && StreamServer.serves(path)) {
        // Players cannot send a token: like /metrics, anonymous while no password is set.
        requireCredential(req, policy, true);
        await options.streams.handle(req, res, path);
        return;
      }
      if (path !== '/api' && !path.startsWith('/api/')) {
        if (req.method !== 'GET' && req.method !== 'HEAD')
          throw new ApiError(405, 'METHOD_NOT_ALLOWED', 'the web UI is read with GET');
        // The token goes into the page only for a loopback browser asking by a loopback name.
        const local = isLoopbackAddress(req.remoteAddress) && isLoopbackHost(req.headers.host!);
        const asset = assets.get(path, local ? options.token : undefined);
        if (!asset) {
          if (path === '/' && !assets.available)
            throw new ApiError(503, 'UI_NOT_BUILT', 'the web UI is not built: run npm run build');
          throw notFound(`nothing at ${path}`);
        }
        res.send(
          200,
          { ...COMMON_HEADERS, 'content-type': asset.type, 'content-security-policy': WEB_CSP },
          req.method === 'HEAD' ? '' : asset.body,
        );
        return;
      }
      requireCredential(req, policy, false);
      const match = routes.match(req.method, path);
      if (match.kind === 'not-found') throw notFound(`no API route ${path}`, 'NO_ROUTE');
      if (match.kind === 'method-not-allowed') {
        sendError(
          res,
          new ApiError(
            405,
            'METHOD_NOT_ALLOWED',
            `${path} takes ${match.allowed.join(', ')}, not ${req.method}`,
          ),
          { allow: match.allowed.join(', ') },
        );
        return;
      }
      await match.handler({ req, res, params: match.params, query });
    } catch (error) {
      if (res.started) throw error;
      sendError(res, error, error instanceof ApiError && error.status === 401 ? challenge : {});
    }
  };
  return { handle, events };
}

/**
 * The daemon's HTTP front: the REST API (`/api/…`), the event stream, the Transmission RPC
 * (`/transmission/rpc`), `/metrics` and the web UI, on one port (127.0.0.1:9091 by default).
 * Every request passes the origin and Host checks; everything but the UI's static files needs
 * a credential (see `auth.ts`).
 */
export class ApiServer {
  private constructor(
    private readonly server: HttpServerHandle,
    private readonly events: EventHub,
  ) {}

  /** Starts listening. @throws {ApiConfigError} on an unsafe address; LISTEN errors from the OS */
  static async start(options: ApiServerOptions): Promise<ApiServer> {
    assertSafeListen(options.settings);
    const { handle, events } = await createApiHandler(options);
    const { host, port } = options.settings;
    const server = await listenHttp({ host, port }, handle);
    return new ApiServer(server, events);
  }

  /** The port the API listens on. */
  get port(): number {
    return this.server.address().port;
  }

  /** Event-stream clients connected now. */
  get streams(): number {
    return this.events.size;
  }

  async close(): Promise<void> {
    this.events.close();
    await this.server.close();
  }
}
