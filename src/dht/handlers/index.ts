import { announcePeer } from './announce-peer.js';
import type { QueryHandler } from './context.js';
import { findNode } from './find-node.js';
import { get } from './get.js';
import { getPeers } from './get-peers.js';
import { ping } from './ping.js';
import { put } from './put.js';
import { sampleInfohashes } from './sample-infohashes.js';

/** The query types this node answers, each by a handler of its own. */
export const QUERY_HANDLERS: ReadonlyMap<string, QueryHandler> = new Map([
  ['ping', ping],
  ['find_node', findNode],
  ['get_peers', getPeers],
  ['announce_peer', announcePeer],
  ['get', get],
  ['put', put],
  ['sample_infohashes', sampleInfohashes],
]);
