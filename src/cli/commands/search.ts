import type { SearchResult } from '../../apps/search/result-set.js';
import type { StrategyName } from '../../apps/search/search-engine.js';
import { Identity } from '../../crypto/identity.js';
import { UsageError } from '../../errors.js';
import { Node } from '../../node/node.js';
import type { OverlayViews } from '../../node/overlay-service.js';
import type { PeerContact } from '../../overlay/contact.js';
import { OverlayUnavailableError } from '../../overlay/errors.js';
import type { Runtime } from '../../runtime/runtime.js';
import { formatBytes } from '../format.js';
import { configFromFlags, type NodeFlags } from '../node-options.js';

/** Flags of `shoal search` and `shoal overlay`. */
export interface SearchCommandOptions extends NodeFlags {
  readonly json?: boolean;
  /** Seconds to collect answers. */
  readonly timeout?: string;
  readonly strategy?: string;
}

const STRATEGIES: readonly StrategyName[] = ['ultrapeer', 'flood', 'walk'];
/** How long a command waits for its first overlay neighbour. */
const JOIN_WAIT_MS = 5_000;

/** Reads `--timeout` (seconds) as milliseconds. */
export function timeoutOf(text: string | undefined, fallbackS = 10): number {
  if (text === undefined) return fallbackS * 1000;
  const s = Number(text);
  if (!Number.isFinite(s) || s <= 0 || s > 3600)
    throw new UsageError(`--timeout takes seconds (0 < S ≤ 3600), not "${text}"`);
  return s * 1000;
}

/** Reads `--strategy`. */
export function strategyOf(text: string | undefined): StrategyName | undefined {
  if (text === undefined) return undefined;
  if (!(STRATEGIES as readonly string[]).includes(text))
    throw new UsageError(`--strategy is one of ${STRATEGIES.join(', ')}, not "${text}"`);
  return text as StrategyName;
}

/** One result as a line for people: number, name, size, sources, magnet. */
export function resultLine(result: SearchResult, n: number): string {
  const sources = `${result.sources} source${result.sources === 1 ? '' : 's'}`;
  return `${String(n).padStart(3)}. ${result.name}  ${formatBytes(result.size)}  ${sources}\n     ${result.magnet}`;
}

/** One result as a JSON object (one per line with `--json`). */
export function resultJson(result: SearchResult, n: number): Record<string, unknown> {
  return {
    n,
    name: result.name,
    size: result.size,
    files: result.files,
    sources: result.sources,
    match: result.match,
    support: result.support,
    infoHash: result.infoHashV1?.toString('hex') ?? result.infoHashV2?.toString('hex'),
    magnet: result.magnet,
    foundAfterMs: result.foundAfterMs,
  };
}

/**
 * Starts a short-lived node for a command (a key of its own, any free port unless `--port`
 * says otherwise),
 * waits briefly for its first overlay neighbour (it joins through `--overlay-peer`, the DHT and
 * LSD), runs `body`, stops.
 */
export async function withOverlayNode<T>(
  runtime: Runtime,
  opts: SearchCommandOptions,
  body: (node: Node) => Promise<T>,
): Promise<T> {
  const config = await configFromFlags(runtime, { ...opts, port: opts.port ?? '0' });
  // A key of its own: the data folder's belongs to the node (daemon) that owns the folder.
  const node = await Node.start(runtime, config, { identity: Identity.generate(runtime.random) });
  try {
    await joinOverlay(runtime, node);
    return await body(node);
  } finally {
    await node.stop();
  }
}

/**
 * Waits (5 s at most) for the node's first overlay neighbour. Throws `OVERLAY_UNAVAILABLE` when
 * the node runs without an overlay (`--no-overlay`).
 */
export async function joinOverlay(runtime: Runtime, node: Node): Promise<void> {
  const overlay = node.overlay;
  if (overlay === undefined)
    throw new OverlayUnavailableError('this node runs without the overlay (--no-overlay)');
  const until = runtime.clock.now() + JOIN_WAIT_MS;
  while (overlay.overlay.active().length === 0 && runtime.clock.now() < until)
    await new Promise<void>((resolve) => runtime.timers.setTimeout(resolve, 100));
}

/**
 * `shoal search <words…>`: searches the overlay and prints results as they arrive (name, size,
 * sources, magnet); `--json` prints one object per line. Exits 0 when something was found.
 */
export async function searchCommand(
  runtime: Runtime,
  words: readonly string[],
  opts: SearchCommandOptions,
): Promise<number> {
  const timeoutMs = timeoutOf(opts.timeout);
  const strategy = strategyOf(opts.strategy);
  return withOverlayNode(runtime, opts, async (node) => {
    const session = node.search(words.join(' '), {
      timeoutMs,
      ...(strategy !== undefined && { strategy }),
    });
    let n = 0;
    for await (const result of session) {
      n++;
      process.stdout.write(
        opts.json ? `${JSON.stringify(resultJson(result, n))}\n` : `${resultLine(result, n)}\n`,
      );
    }
    if (!opts.json) process.stderr.write(`${n} result${n === 1 ? '' : 's'}\n`);
    return n > 0 ? 0 : 1;
  });
}

/**
 * Runs a search and returns result `n` (1-based) of the ranked list, for `shoal get --search`.
 * Throws `USAGE` when there are fewer results.
 */
export async function pickResult(
  node: Node,
  text: string,
  n: number,
  timeoutMs: number,
): Promise<SearchResult> {
  const session = node.search(text, { timeoutMs });
  for await (const _ of session) {
    // Collect until the search ends; the ranking is over all of them.
  }
  const ranked = session.ranked();
  const chosen = ranked[n - 1];
  if (chosen === undefined)
    throw new UsageError(`the search "${text}" found ${ranked.length} results, not ${n}`);
  return chosen;
}

function contactLine(c: PeerContact): string {
  const at = c.addresses.map((a) => `${a.host}:${a.port}`).join(' ');
  return `  ${c.id}${at === '' ? '' : `  ${at}`}`;
}

/** The views as text. */
export function viewsText(v: OverlayViews): string {
  const lines = [
    `key ${v.key} (${v.role}), sharing ${v.shared}`,
    `active view (${v.active.length}):`,
    ...v.active.map(contactLine),
    `passive view (${v.passive.length}):`,
    ...v.passive.map(contactLine),
    `${v.role === 'leaf' ? 'ultrapeers' : 'ultrapeer neighbours'} (${v.ultrapeers.length}):`,
    ...v.ultrapeers.map(contactLine),
  ];
  if (v.role === 'ultrapeer')
    lines.push(`leaves (${v.leaves.length}):`, ...v.leaves.map(contactLine));
  return `${lines.join('\n')}\n`;
}

/** `shoal overlay`: joins and shows the node's views (active, passive, ultrapeers, leaves). */
export async function overlayCommand(
  runtime: Runtime,
  opts: SearchCommandOptions,
): Promise<number> {
  return withOverlayNode(runtime, opts, async (node) => {
    const v = node.overlayViews();
    const ids = (list: readonly PeerContact[]) =>
      list.map((c) => ({ key: c.id, addresses: c.addresses }));
    process.stdout.write(
      opts.json
        ? `${JSON.stringify({ ...v, active: ids(v.active), passive: ids(v.passive), ultrapeers: ids(v.ultrapeers), leaves: ids(v.leaves) })}\n`
        : viewsText(v),
    );
    return 0;
  });
}
