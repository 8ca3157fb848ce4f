import { createHash } from 'node:crypto';
import { keywords } from '../apps/search/keywords.js';
import { SearchEngine, type SearchEngineOptions } from '../apps/search/search-engine.js';
import { itemKey, type SharedItem } from '../apps/search/share-index.js';
import { Identity } from '../crypto/identity.js';
import { contactOf } from '../overlay/contact.js';
import { Overlay } from '../overlay/overlay.js';
import type { Clock, Timers } from '../runtime/runtime.js';
import type { ChurnModel } from './churn.js';
import type { SimHost } from './host.js';
import { type MessageLinks, MessageNetwork } from './message-network.js';
import { Network } from './network.js';
import { EventKind, SIM_EPOCH_MS, type Simulator } from './simulator.js';

/** The shape of the simulated search network. */
export interface SearchWorldOptions {
  /** Share of nodes able to become ultrapeers (reachable, with capacity). */
  readonly capableShare: number;
  /** Catalogue: distinct items, the share of nodes holding the most popular one, Zipf exponent. */
  readonly items: number;
  readonly topShare: number;
  readonly zipf: number;
  /** Words of the vocabulary item names are drawn from. */
  readonly vocabulary: number;
  /** Mean and spread of the keepalive's detection of a crashed neighbour, ms. */
  readonly detectMs: number;
  readonly search: Partial<SearchEngineOptions>;
}

/** A catalogue item: a torrent with a name of a few words, held by some nodes. */
export interface CatalogueItem {
  readonly index: number;
  readonly item: SharedItem;
  readonly key: string;
  readonly words: readonly string[];
  /** Share of nodes meant to hold it (Zipf). */
  readonly share: number;
  /** Nodes holding it (live or not). */
  readonly holders: Set<number>;
}

/** One simulated node: host, identity, links, overlay, search engine. */
export interface SearchNode {
  readonly index: number;
  readonly host: SimHost;
  readonly identity: Identity;
  readonly links: MessageLinks;
  readonly overlay: Overlay;
  readonly engine: SearchEngine;
  readonly capable: boolean;
  readonly items: number[];
}

const SYLLABLES = [
  'ka',
  'lo',
  'mi',
  'ren',
  'to',
  'sa',
  'vel',
  'da',
  'no',
  'ri',
  'su',
  'fen',
  'ga',
  'lu',
  'mor',
  'pi',
  'qua',
  'shi',
  'tor',
  'ul',
  'be',
  'cro',
  'dun',
  'el',
  'fa',
  'hol',
  'ix',
  'jo',
  'ny',
  'ost',
];

/**
 * The world of the `search` scenario: hosts placed by the network model (for latency), one
 * shoal overlay node with a search engine on each (the real engines, over message-level links),
 * and a catalogue of torrents with Zipf popularity, each replicated on its share of the nodes.
 * Names are a few words from a synthetic vocabulary whose words are themselves Zipf-common, so
 * some queries match several items.
 */
export class SearchWorld {
  readonly network: Network;
  readonly net: MessageNetwork;
  readonly nodes: SearchNode[] = [];
  readonly live: SearchNode[] = [];
  readonly catalogue: CatalogueItem[] = [];
  /** Catalogue items by keyword. */
  readonly byWord = new Map<string, Set<number>>();
  /** Messages per query id (only for ids being measured). */
  readonly queryMessages = new Map<string, number>();
  private readonly slot = new Map<number, number>();
  private readonly identities: Identity[] = [];

  constructor(
    readonly sim: Simulator,
    readonly options: SearchWorldOptions,
  ) {
    this.network = new Network(sim);
    const hosts = this.network.hosts;
    this.net = new MessageNetwork(
      {
        now: () => sim.now,
        after: (ms, fn, node) => {
          sim.after(ms, fn, node === undefined ? undefined : hosts[node], EventKind.udp);
        },
      },
      {
        oneWayMs: (a, b) => {
          const path = this.network.oneWayMs(hosts[a]!, hosts[b]!);
          return path + this.network.latency.jitter(sim.random, path);
        },
        connectTimeoutMs: 3_000,
        detectMs: () => options.detectMs * (0.5 + sim.random.float()),
        maxIdleLinks: 24,
        banMs: 3_600_000,
      },
    );
    this.buildCatalogue();
  }

  /** Adds a node now; with `join` it joins the overlay through a random live node. */
  addNode(join: boolean): SearchNode {
    const sim = this.sim;
    const host = this.network.addHost();
    const index = host.index;
    const identity = Identity.generate(sim.random);
    this.identities.push(identity);
    const capable = sim.random.float() < this.options.capableShare;
    const links = this.net.addNode(
      contactOf(identity.publicKey, [{ host: host.publicIp, port: 6881 }]),
    );
    const clock: Clock = { now: () => sim.now, wallTime: () => SIM_EPOCH_MS + sim.now };
    const timers: Timers = {
      setTimeout: (fn, ms) => sim.after(Math.max(1, ms), fn, host),
      setInterval: (fn, ms) => sim.every(ms, fn, host),
    };
    const env = { clock, timers, random: sim.random, identity };
    const overlay = new Overlay(links, env);
    const engine = new SearchEngine(links, overlay, env, this.options.search, {
      capable: () => capable,
      peers: () => [{ host: host.publicIp, port: 6881 }],
      onQueryMessage: (id) => {
        this.queryMessages.set(id, (this.queryMessages.get(id) ?? 0) + 1);
      },
    });
    const node: SearchNode = { index, host, identity, links, overlay, engine, capable, items: [] };
    this.nodes.push(node);
    this.slot.set(index, this.live.length);
    this.live.push(node);
    if (join && this.live.length > 1) {
      const via = this.randomLive(node);
      if (via !== undefined) overlay.join([via.links.self]);
    }
    return node;
  }

  /** Gives `node` the item `item` to share. */
  give(node: SearchNode, item: CatalogueItem): void {
    if (item.holders.has(node.index)) return;
    item.holders.add(node.index);
    node.items.push(item.index);
    node.engine.share(item.item);
  }

  /** Gives a newcomer items by their shares (what a random node would hold). */
  giveByPopularity(node: SearchNode): void {
    for (const item of this.catalogue)
      if (this.sim.random.float() < item.share) this.give(node, item);
  }

  /** Crashes a node: it vanishes; its neighbours notice after the keepalive's delay. */
  crash(node: SearchNode): void {
    if (!node.host.alive) return;
    this.network.kill(node.host);
    this.net.crash(node.index);
    const at = this.slot.get(node.index)!;
    const last = this.live.pop()!;
    if (last !== node) {
      this.live[at] = last;
      this.slot.set(last.index, at);
    }
    this.slot.delete(node.index);
  }

  /** A random live node other than `except`. */
  randomLive(except?: SearchNode): SearchNode | undefined {
    for (let tries = 0; tries < 100; tries++) {
      const n = this.live[this.sim.random.int(this.live.length)];
      if (n !== undefined && n !== except) return n;
    }
    return undefined;
  }

  /** Live holders of an item. */
  liveHolders(item: CatalogueItem): number {
    let n = 0;
    for (const h of item.holders) if (this.nodes[h]!.host.alive) n++;
    return n;
  }

  /** Items (by index) whose keywords include all of `words` and that a live node holds. */
  relevant(words: readonly string[]): number[] {
    const sets = words.map((w) => this.byWord.get(w) ?? new Set<number>());
    sets.sort((a, b) => a.size - b.size);
    const out: number[] = [];
    for (const i of sets[0] ?? []) {
      if (sets.every((s) => s.has(i)) && this.liveHolders(this.catalogue[i]!) > 0) out.push(i);
    }
    return out;
  }

  /** Draws an item index by Zipf popularity (the most shared are searched most). */
  popularItem(): number {
    const x = this.sim.random.float() * this.totalShare;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Churn: nodes leave after Weibull sessions, newcomers arrive to keep the population. */
  startChurn(model: ChurnModel, population: number, untilMs: number): void {
    for (const node of [...this.live]) {
      const left = model.residualSessionMs();
      if (this.sim.now + left < untilMs)
        this.sim.after(left, () => this.crash(node), node.host, EventKind.churn);
    }
    const arrive = () => {
      if (this.sim.now >= untilMs) return;
      const node = this.addNode(true);
      this.giveByPopularity(node);
      const session = model.freshSessionMs();
      if (this.sim.now + session < untilMs)
        this.sim.after(session, () => this.crash(node), node.host, EventKind.churn);
      this.sim.after(model.nextArrivalMs(population), arrive, undefined, EventKind.churn);
    };
    this.sim.after(model.nextArrivalMs(population), arrive, undefined, EventKind.churn);
  }

  private cumulative: number[] = [];
  private totalShare = 0;

  private buildCatalogue(): void {
    const o = this.options;
    const random = this.sim.random;
    const vocabulary: string[] = [];
    const seen = new Set<string>();
    while (vocabulary.length < o.vocabulary) {
      const n = 2 + random.int(2);
      let w = '';
      for (let i = 0; i < n; i++) w += SYLLABLES[random.int(SYLLABLES.length)];
      if (!seen.has(w)) {
        seen.add(w);
        vocabulary.push(w);
      }
    }
    // Word popularity: Zipf with exponent 0.8 over the vocabulary.
    const wordWeights = vocabulary.map((_, i) => 1 / (i + 1) ** 0.8);
    const wordCum: number[] = [];
    let sum = 0;
    for (const w of wordWeights) {
      sum += w;
      wordCum.push(sum);
    }
    const pickWord = () => {
      const x = random.float() * sum;
      let lo = 0;
      let hi = wordCum.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (wordCum[mid]! < x) lo = mid + 1;
        else hi = mid;
      }
      return vocabulary[lo]!;
    };
    let total = 0;
    for (let i = 0; i < o.items; i++) {
      const count = 3 + random.int(3);
      const words = new Set<string>();
      while (words.size < count) words.add(pickWord());
      const name = `${[...words].map((w) => w[0]!.toUpperCase() + w.slice(1)).join(' ')}.mkv`;
      const hash = createHash('sha1').update(`item ${this.sim.seed} ${i}`).digest();
      const item: SharedItem = {
        infoHashV1: hash,
        name,
        size: 1_000_000 + random.int(4_000_000_000),
        files: [name],
      };
      const share = o.topShare / (i + 1) ** o.zipf;
      const entry: CatalogueItem = {
        index: i,
        item,
        key: itemKey(item),
        words: keywords(name),
        share,
        holders: new Set(),
      };
      this.catalogue.push(entry);
      for (const w of entry.words) {
        const set = this.byWord.get(w) ?? new Set();
        set.add(i);
        this.byWord.set(w, set);
      }
      total += share;
      this.cumulative.push(total);
    }
    this.totalShare = total;
  }
}
