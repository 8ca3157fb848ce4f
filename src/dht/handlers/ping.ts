import type { QueryHandler } from './context.js';

/** BEP 5 `ping`: an empty reply (the server adds our id). */
export const ping: QueryHandler = () => ({});
