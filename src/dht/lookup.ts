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
  /**
   * How many of the closest answering nodes to return (default k): an announce stores at more
   * nodes than the lookup waits for, using answers it already has.
   */
  readonly keep?: number;
  readonly alpha: number;
  /** Upper bound on queries sent (keeps a lookup bounded on a hostile network). */
  readonly maxQueries: number;
  /** Sends the query to one node; rejects when it does not answer. */
  readonly ask: (contact: NodeContact) => Promise<BDict>;
  /** Sees each answer as it arrives (get_peers values stream out from here). */
  readonly onReply?: (reply: LookupReply) => void;
  /** Sees the nodes each answer names, decoded once for the lookup and its owner alike. */
  readonly onNodes?: (nodes: readonly NodeContact[]) => void;
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
 * answered, learn closer nodes from every answer, and stop as soon as the k closest known nodes
 * have all answered. Only queries to nodes still among the k closest count against α, so a slow
 * node pushed out by closer ones no longer holds the lookup back, and nor does the wait for
 * answers from nodes too far away to matter.
 */
export function iterativeLookup(o: LookupOptions): Promise<LookupResult> {
  const seen = new Set<string>();
  /** Candidates, closest first. */
  const list: Candidate[] = [];
  const add = (contact: NodeContact, depth: number) => {
    const key = contact.id.toString('latin1');
    if (seen.has(key)) return;
    seen.add(key);
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareDistance(o.target, list[mid]!.contact.id, contact.id) < 0) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, { contact, state: 'new', depth });
  };
  for (const s of o.seeds) add(s, 1);
  let inFlight = 0;
  let queried = 0;
  let finished = false;

  return new Promise((resolve) => {
    const finish = () => {
      finished = true;
      const answered = list.filter((c) => c.state === 'done').slice(0, o.keep ?? o.k);
      resolve({
        closest: answered.map((c) => ({ contact: c.contact, r: c.reply! })),
        hops: answered[0]?.depth ?? 0,
        queried,
      });
    };
    const ask = (c: Candidate) => {
      c.state = 'pending';
      inFlight++;
      queried++;
      o.ask(c.contact).then(
        (r) => {
          c.state = 'done';
          c.reply = r;
          const nodes = r.get(o.family === 4 ? 'nodes' : 'nodes6');
          if (nodes instanceof Uint8Array) {
            const named = decodeCompactNodes(nodes, o.family).slice(0, 16);
            for (const n of named) add(n, c.depth + 1);
            o.onNodes?.(named);
          }
          inFlight--;
          if (finished) return;
          o.onReply?.({ contact: c.contact, r });
          step();
        },
        () => {
          c.state = 'failed';
          inFlight--;
          if (!finished) step();
        },
      );
    };
    const step = () => {
      let considered = 0;
      let active = 0;
      let allDone = true;
      for (const c of list) {
        if (c.state === 'failed') continue;
        if (considered++ >= o.k) break;
        if (c.state === 'done') continue;
        allDone = false;
        if (c.state === 'pending') active++;
        else if (active < o.alpha && queried < o.maxQueries) {
          active++;
          ask(c);
        }
      }
      if (allDone || inFlight === 0) finish();
    };
    step();
  });
}
