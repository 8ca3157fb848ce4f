import type { BDict } from '../codec/bencode.js';
import { decodeCompactNodes, type NodeContact } from '../codec/compact.js';
import { compareDistance } from './node-id.js';

/** One node's answer during a lookup. */
export interface LookupReply {
  readonly contact: NodeContact;
  readonly r: BDict;
}

/** What a finished lookup found. */
export interface LookupResult {
  /** The (up to) k closest nodes that answered, closest first, with their replies. */
  readonly closest: readonly LookupReply[];
  /** Depth of the closest answering node: how many steps the lookup took to reach it. */
  readonly hops: number;
  readonly queried: number;
}

/** How to run an iterative lookup. */
export interface LookupOptions {
  readonly target: Uint8Array;
  readonly seeds: readonly NodeContact[];
  readonly k: number;
  readonly alpha: number;
  /** Upper bound on queries sent (keeps a lookup bounded on a hostile network). */
  readonly maxQueries: number;
  /** Sends the query to one node; rejects when it does not answer. */
  readonly ask: (contact: NodeContact) => Promise<BDict>;
  /** Sees each answer as it arrives (get_peers values stream out from here). */
  readonly onReply?: (reply: LookupReply) => void;
  /** The address family whose nodes to follow. */
  readonly family: 4 | 6;
}

interface Candidate {
  contact: NodeContact;
  state: 'new' | 'pending' | 'done' | 'failed';
  depth: number;
  reply?: BDict;
}

/**
 * Kademlia's iterative lookup (BEP 5): keep α queries in flight to the closest nodes not yet
 * asked, learn closer nodes from every answer, and stop when the k closest known nodes have all
 * answered (or failed) and nothing in flight could improve on them.
 */
export function iterativeLookup(o: LookupOptions): Promise<LookupResult> {
  const byId = new Map<string, Candidate>();
  const add = (contact: NodeContact, depth: number) => {
    const key = contact.id.toString('hex');
    if (!byId.has(key)) byId.set(key, { contact, state: 'new', depth });
  };
  for (const s of o.seeds) add(s, 1);
  let inFlight = 0;
  let queried = 0;

  return new Promise((resolve) => {
    const sorted = () =>
      [...byId.values()]
        .filter((c) => c.state !== 'failed')
        .sort((a, b) => compareDistance(o.target, a.contact.id, b.contact.id));
    const finish = () => {
      const answered = sorted()
        .filter((c) => c.state === 'done')
        .slice(0, o.k);
      resolve({
        closest: answered.map((c) => ({ contact: c.contact, r: c.reply! })),
        hops: answered[0]?.depth ?? 0,
        queried,
      });
    };
    const step = () => {
      const top = sorted().slice(0, o.k);
      for (const c of top) {
        if (inFlight >= o.alpha || queried >= o.maxQueries) break;
        if (c.state !== 'new') continue;
        c.state = 'pending';
        inFlight++;
        queried++;
        o.ask(c.contact).then(
          (r) => {
            c.state = 'done';
            c.reply = r;
            const nodes = r.get(o.family === 4 ? 'nodes' : 'nodes6');
            if (nodes instanceof Uint8Array) {
              for (const n of decodeCompactNodes(nodes, o.family).slice(0, 16)) add(n, c.depth + 1);
            }
            o.onReply?.({ contact: c.contact, r });
            inFlight--;
            step();
          },
          () => {
            c.state = 'failed';
            inFlight--;
            step();
          },
        );
      }
      if (inFlight === 0) finish();
    };
    step();
  });
}
